"""Containers and encodings, decoded without Spark: every unit of every file, as executors do."""

import collections
import struct

import numpy as np
import pytest
from generated_logs import json_mcap, rewrite_mcap, ros2_sqlite_bag
from mcap.writer import CompressionType
from pyspark.sql.pandas.types import to_arrow_schema

from drivetrain_spark import decode, messages, sources
from drivetrain_spark.tables import COMMON_COLUMNS, CURATED, table_for_type, with_common


def decode_file(path, fmt):
    """(table, topic, log_time, row) for every message, unit by unit, as the job's tasks build
    them (``decode.unit_tables``); ``row`` holds the message's own columns."""
    plan = sources.plan(str(path), fmt)
    tables, schemas = {}, {}
    for cid, channel in plan.channels.items():
        table = table_for_type(channel.schema.name) if channel.schema.name else "json_messages"
        fields = messages.load(channel.schema).fields
        spark_schema = CURATED[table].schema if table in CURATED else with_common(fields)
        tables[cid], schemas[table] = table, to_arrow_schema(spark_schema)
    entry = decode.FileEntry(str(path), "car", "drive", plan.channels, tables)
    types, out = {}, []
    for unit in plan.units:
        for table, rows in decode.unit_tables(unit, entry, schemas, types):
            for row in rows.to_pylist():
                own = {k: v for k, v in row.items() if k not in COMMON_COLUMNS}
                out.append((table, row["topic"], row["log_time_ns"], own))
    return plan, out


def counts(rows):
    return collections.Counter(topic for _, topic, _, _ in rows)


def rosbags_points(msg, index):
    """One point's fields, unpacked with struct from rosbags' own decoding of the message."""
    kinds = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}
    order = ">" if msg.is_bigendian else "<"
    base = (index // msg.width) * msg.row_step + (index % msg.width) * msg.point_step
    raw = bytes(msg.data)
    return {
        f.name: struct.unpack_from(order + kinds[f.datatype], raw, base + f.offset)[0] for f in msg.fields
    }


def check_point_clouds(rows, reference):
    """Our typed arrays against the header and against rosbags' decoding, point by point."""
    rng = np.random.default_rng(3)
    assert len(rows) == len(reference)
    for row, msg in zip(rows, reference, strict=True):
        assert row["point_count"] == msg.width * msg.height
        assert [f["name"] for f in row["fields"]] == [f.name for f in msg.fields]
        assert [c["name"] for c in row["channels"]] == [f.name for f in msg.fields]
        for channel, field in zip(row["channels"], msg.fields, strict=True):
            values = next(
                channel[k] for k in ("ints", "longs", "floats", "doubles") if channel[k] is not None
            )
            assert len(values) == row["point_count"] * max(field.count, 1)
        for index in rng.choice(row["point_count"], size=200, replace=False):
            expected = rosbags_points(msg, int(index))
            for channel in row["channels"]:
                values = next(
                    channel[k] for k in ("ints", "longs", "floats", "doubles") if channel[k] is not None
                )
                got, want = values[index], expected[channel["name"]]
                assert got == want or (np.isnan(got) and np.isnan(want)), (channel["name"], index)


def test_ouster_mcap_point_clouds_images_imu(sensor_data):
    from mcap.reader import make_reader
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    path = sensor_data / "lidar" / "pointcloudset-ouster" / "ouster-os1-64.mcap"
    _plan, rows = decode_file(path, "mcap")
    per_topic = counts(rows)
    assert per_topic["/os1_cloud_node/points"] == 2
    assert per_topic["/os1_cloud_node/imu"] == 17
    assert per_topic["/os1_node/lidar_packets"] == 206
    assert sum(per_topic.values()) == 273

    store = get_typestore(Stores.EMPTY)
    reference = []
    with open(path, "rb") as f:
        for schema, _channel, message in make_reader(f).iter_messages(topics=["/os1_cloud_node/points"]):
            store.register(get_types_from_msg(schema.data.decode(), schema.name))
            reference.append(store.deserialize_ros1(message.data, "sensor_msgs/msg/PointCloud2"))
    clouds = [r for t, _, _, r in rows if t == "point_clouds"]
    assert clouds[0]["width"] * clouds[0]["height"] == 2048 * 64 and len(clouds[0]["fields"]) == 9
    check_point_clouds(clouds, reference)

    images = [r for t, _, _, r in rows if t == "images"]
    assert len(images) == 6
    assert all(len(r["data"]) == r["step"] * r["height"] and r["encoding"] == "mono8" for r in images)
    imu = [r for t, _, _, r in rows if t == "imu"]
    assert all(abs(r["linear_acceleration"]["z"]) > 5 for r in imu)  # gravity on a level sensor


def test_luminar_bag_point_clouds_match_rosbags(sensor_data):
    from rosbags.rosbag1 import Reader
    from rosbags.typesys import Stores, get_typestore

    path = sensor_data / "lidar" / "embag-luminar" / "luminar-lz4.bag"
    _plan, rows = decode_file(path, "rosbag1")
    store = get_typestore(Stores.ROS1_NOETIC)
    with Reader(path) as bag:
        conns = [c for c in bag.connections if c.topic == "/luminar_pointcloud"]
        reference = [store.deserialize_ros1(raw, c.msgtype) for c, _, raw in bag.messages(connections=conns)]
        expected_counts = collections.Counter(c.topic for c, _, _ in bag.messages())
    assert counts(rows) == expected_counts
    check_point_clouds([r for t, _, _, r in rows if t == "point_clouds"], reference)
    assert {t for t, _, _, _ in rows} == {"point_clouds", "odometry", "msg_sensor_msgs_laserscan"}


def test_ros1_bags_uncompressed_lz4_bz2_match_rosbags(sensor_data):
    from rosbags.rosbag1 import Reader
    from rosbags.typesys import Stores, get_typestore

    turtles = sensor_data / "ros" / "ros1-turtlesim"
    _, plain = decode_file(turtles / "example.bag", "rosbag1")
    _, lz4 = decode_file(turtles / "example-lz4.bag", "rosbag1")
    assert sorted((t, topic, lt) for t, topic, lt, _ in plain) == sorted(
        (t, topic, lt) for t, topic, lt, _ in lz4
    )
    assert len(plain) == 8647

    husky = sensor_data / "gnss-imu" / "robot-localization-husky" / "husky-gnss-imu-bz2.bag"
    _, rows = decode_file(husky, "rosbag1")
    assert counts(rows) == {"/imu/data": 11865, "/husky_velocity_controller/odom": 3952, "/fix": 989}
    store = get_typestore(Stores.ROS1_NOETIC)
    with Reader(husky) as bag:
        fix_conn = [c for c in bag.connections if c.topic == "/fix"]
        fixes = [store.deserialize_ros1(raw, c.msgtype) for c, _, raw in bag.messages(connections=fix_conn)]
    ours = [r for t, _, _, r in rows if t == "gnss"]
    assert [r["latitude"] for r in ours] == [m.latitude for m in fixes]
    assert [r["header_time_ns"] for r in ours] == [
        m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in fixes
    ]


def test_protobuf_mcap_with_embedded_schemas(sensor_data):
    path = sensor_data / "protobuf" / "keelson-ais" / "ais-protobuf-zstd.mcap"
    plan, rows = decode_file(path, "mcap")
    assert len(rows) == 2172 and len(plan.channels) == 649
    assert {t for t, _, _, _ in rows} == {"msg_keelson_primitives_timestampedbytes"} | {
        t for t, _, _, _ in rows if t.startswith("msg_keelson")
    }
    stamped = [r for _, _, _, r in rows if "timestamp" in r]
    # The payload's own timestamp is within a minute of when the logger wrote it.
    for (_, _, log_time, _), row in zip(rows, stamped, strict=False):
        assert abs(row["timestamp"]["seconds"] - log_time / 1e9) < 60


@pytest.mark.parametrize("compression", [CompressionType.NONE, CompressionType.LZ4, CompressionType.ZSTD])
def test_mcap_chunk_compressions_decode_the_same_rows(sensor_data, tmp_path, compression):
    source = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    target = rewrite_mcap(source, tmp_path / "talker.mcap", compression, chunk_size=512)
    plan, rows = decode_file(target, "mcap")
    _, original = decode_file(source, "mcap")
    assert len(plan.units) >= 1
    assert [(t, lt, r) for t, _, lt, r in rows] == [(t, lt, r) for t, _, lt, r in original]


def test_large_log_splits_into_one_unit_per_chunk_without_loss(sensor_data, tmp_path, monkeypatch):
    from mcap.reader import make_reader

    monkeypatch.setattr(sources, "UNIT_BYTES", 1)  # every chunk its own unit (a task's share)
    mcap_source = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    target = rewrite_mcap(mcap_source, tmp_path / "many-chunks.mcap", CompressionType.ZSTD, chunk_size=256)
    with open(target, "rb") as f:
        chunks = len(make_reader(f).get_summary().chunk_indexes)
    plan, rows = decode_file(target, "mcap")
    assert chunks > 5 and len(plan.units) == chunks
    assert len(rows) == 20 and len({lt for _, _, lt, _ in rows}) == 20

    bag_plan, bag_rows = decode_file(
        sensor_data / "gnss-imu/robot-localization-husky/husky-gnss-imu-bz2.bag", "rosbag1"
    )
    assert len(bag_plan.units) > 5 and len(bag_rows) == 16806


def test_json_mcap_with_jsonschema(tmp_path):
    _, rows = decode_file(json_mcap(tmp_path / "poses.mcap"), "mcap")
    assert len(rows) == 50
    table, topic, _, row = rows[3]
    assert (table, topic) == ("msg_demo_pose", "/pose")
    assert row == {
        "x": 1.5,
        "y": -3.0,
        "label": "p3",
        "flags": [False],
        "pose": {"yaw": pytest.approx(0.3), "frame": 3},
    }


@pytest.mark.parametrize("with_definitions", [True, False])
def test_ros2_sqlite_bag_decodes_like_its_mcap(sensor_data, tmp_path, with_definitions):
    source = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    db3 = ros2_sqlite_bag(source, tmp_path / "talker", with_definitions)
    assert (db3.parent / "metadata.yaml").is_file()
    _, rows = decode_file(db3, "rosbag2_sqlite")
    _, original = decode_file(source, "mcap")
    assert sorted((t, lt, str(r)) for t, _, lt, r in rows) == sorted(
        (t, lt, str(r)) for t, _, lt, r in original
    )
