"""The ingest job end to end on the ROS 2 MCAP files: tables, manifest, Iceberg snapshots."""

import datetime as dt

from mcap.reader import make_reader
from pyspark.sql import functions as F


def test_ros2_mcaps_become_tables_with_manifest(spark, sensor_data, raw_drive, ingest):
    ros = sensor_data / "ros"
    inputs = raw_drive(
        "car-7", "2020-04-02", ros / "ros2-talker" / "talker.mcap", ros / "ros2-cdr-test" / "cdr_test_0.mcap"
    )

    manifest = ingest(inputs)

    assert [i["status"] for i in manifest["inputs"]] == ["ok", "ok"]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    tables = manifest["tables"]
    # metadata.yaml of the talker bag (written by rosbag2): /topic and /rosout hold 10 each.
    assert tables["msg_std_msgs_string"]["rows"] == 10
    assert tables["msg_rcl_interfaces_log"]["rows"] == 10
    assert tables["msg_test_msgs_basictypes"]["rows"] == 3
    assert tables["msg_test_msgs_arrays"]["rows"] == 4
    assert manifest["schemaVersion"] == 1 and manifest["runId"] == "run-1"

    strings = ingest.table("msg_std_msgs_string").orderBy("log_time_ns").collect()
    assert [r.data for r in strings] == [f"Hello, world! {i}" for i in range(10)]
    first = strings[0]
    assert (first.vehicle_id, first.drive_id, first.topic) == ("car-7", "2020-04-02", "/topic")
    assert first.source_uri == inputs[0]["uri"]
    with open(ros / "ros2-talker" / "talker.mcap", "rb") as f:
        logged = [m.log_time for _, c, m in make_reader(f).iter_messages() if c.topic == "/topic"]
    assert [r.log_time_ns for r in strings] == sorted(logged)
    assert first.log_time == dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=first.log_time_ns // 1000)
    assert tables["msg_std_msgs_string"]["partitions"] == ["vehicle_id=car-7/log_time_day=2020-04-02"]

    # Nested messages become structs, sequences arrays, byte arrays binary.
    arrays = ingest.table("msg_test_msgs_arrays")
    fields = {f.name: f.dataType.simpleString() for f in arrays.schema.fields}
    assert fields["float64_values"] == "array<double>"
    assert fields["uint8_values"] == "binary"
    assert fields["basic_types_values"].startswith("array<struct<bool_value:boolean")
    row = arrays.first()
    assert len(row.basic_types_values) == 3
    assert row.string_values is not None and len(row.string_values) == 3


def test_manifest_pins_snapshots_for_time_travel(spark, sensor_data, raw_drive, ingest):
    ros = sensor_data / "ros"
    first = ingest(raw_drive("car-7", "d1", ros / "ros2-talker" / "talker.mcap"), run_id="run-a")
    second = ingest(raw_drive("car-7", "d2", ros / "ros2-talker" / "talker.mcap"), run_id="run-b")

    table = f"{ingest.catalog}.sensor.msg_std_msgs_string"
    pinned = first["tables"]["msg_std_msgs_string"]["snapshotId"]
    latest = second["tables"]["msg_std_msgs_string"]["snapshotId"]
    assert pinned != latest
    assert spark.sql(f"SELECT * FROM {table} VERSION AS OF {pinned}").count() == 10
    assert spark.sql(f"SELECT * FROM {table} VERSION AS OF {latest}").count() == 20
    at_pin = spark.sql(f"SELECT * FROM {table} VERSION AS OF {pinned}")
    drives = at_pin.select(F.collect_set("drive_id")).first()[0]
    assert drives == ["d1"]
