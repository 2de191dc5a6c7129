import io

from drivetrain_spark.mcap_inventory import inventory, inventory_stream


def test_talker_inventory_matches_rosbag2_metadata(sensor_data):
    # metadata.yaml was written by rosbag2 itself: an independent record of the same log.
    log = inventory(sensor_data / "ros" / "ros2-talker" / "talker.mcap")

    assert log.profile == "ros2"
    counts = {t.topic: t.message_count for t in log.topics}
    assert counts["/topic"] == 10
    assert counts["/rosout"] == 10
    assert counts.get("/parameter_events", 0) == 0
    assert log.message_count == 20
    assert log.start_ns == 1585866235112411371
    assert abs(log.duration_ns - 4531096768) < 1_000_000


def test_topic_schema_and_encoding_are_reported(sensor_data):
    log = inventory(sensor_data / "ros" / "ros2-talker" / "talker.mcap")

    topic = next(t for t in log.topics if t.topic == "/topic")
    assert topic.schema_name == "std_msgs/msg/String"
    assert topic.message_encoding == "cdr"


def test_truncated_log_counts_only_complete_chunks(sensor_data):
    # An interrupted upload can end anywhere: the inventory must never fail on it, and a torn
    # chunk (this log has one, holding all 20 messages) must count nothing, never garbage.
    raw = (sensor_data / "ros" / "ros2-talker" / "talker.mcap").read_bytes()
    whole = inventory_stream(io.BytesIO(raw))

    cuts = [inventory_stream(io.BytesIO(raw[:cut])) for cut in range(0, len(raw), 97)]
    counts = [c.message_count for c in cuts]

    assert not any(c.from_summary for c in cuts)
    assert counts == sorted(counts), "more bytes can never mean fewer messages"
    assert set(counts) == {0, whole.message_count}
