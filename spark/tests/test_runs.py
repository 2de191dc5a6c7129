"""Whole runs: every real log through the job, corrupt inputs quarantined, re-runs idempotent,
concurrent runs safe."""

import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
from generated_logs import bad_crc_mcap, mcap_with
from pyspark.sql import functions as F

from drivetrain_spark import datafiles, sources, warehouse

REAL_LOGS = [
    "lidar/pointcloudset-ouster/ouster-os1-64.mcap",
    "lidar/embag-luminar/luminar-lz4.bag",
    "gnss-imu/robot-localization-husky/husky-gnss-imu-bz2.bag",
    "ros/ros1-turtlesim/example-lz4.bag",
    "protobuf/keelson-ais/ais-protobuf-zstd.mcap",
]


def table_state(spark, catalog, table, snapshot):
    rows = spark.sql(f"SELECT * FROM {catalog}.sensor.{table} VERSION AS OF {snapshot}")
    return datafiles.table_checksum(rows)


def test_real_logs_twice_leave_every_table_unchanged(spark, sensor_data, raw_drive, ingest):
    inputs = raw_drive("robot-1", "2020-06-22", *(sensor_data / p for p in REAL_LOGS))
    first = ingest(inputs, run_id="first")
    second = ingest(inputs, run_id="second")

    assert all(i["status"] == "ok" for i in first["inputs"])
    tables = first["tables"]
    assert tables["imu"]["rows"] == 17 + 11865
    assert tables["gnss"]["rows"] == 989
    assert tables["odometry"]["rows"] == 3952 + 5
    assert tables["point_clouds"]["rows"] == 2 + 5
    assert tables["images"]["rows"] == 6
    assert tables["msg_turtlesim_pose"]["rows"] == 2688
    assert sum(t["rows"] for n, t in tables.items() if n.startswith("msg_keelson")) == 2172
    assert set(second["tables"]) == set(tables)
    for name, entry in tables.items():
        again = second["tables"][name]
        # 64-bit ids leave as strings (JavaScript readers would round a number), exactly Iceberg's.
        current = warehouse.current_snapshot(spark, f"{ingest.catalog}.sensor.{name}")
        assert again["snapshotId"] == str(current), name
        assert (again["rows"], again["checksum"]) == (entry["rows"], entry["checksum"]), name
        assert again["snapshotId"] != entry["snapshotId"]
        # The second run's snapshot holds exactly what the first one did: no duplicates.
        before = table_state(spark, ingest.catalog, name, entry["snapshotId"])
        after = table_state(spark, ingest.catalog, name, again["snapshotId"])
        assert before == after == (entry["rows"], entry["checksum"]), name


def test_corrupt_inputs_are_quarantined_and_the_rest_commits(
    sensor_data, raw_drive, ingest, tmp_path, monkeypatch
):
    # Units of about 1 KB: the bad-CRC copy spreads over several tasks, and those after its bad
    # chunk write files before the object is known to fail.
    monkeypatch.setattr(sources, "UNIT_BYTES", 1024)
    talker = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "truncated.mcap").write_bytes(talker.read_bytes()[: talker.stat().st_size // 2])
    bad_crc_mcap(talker, broken / "bad-crc.mcap", chunk_size=256)
    mcap_with(broken / "unknown-encoding.mcap", "demo/Thing", "flatbuffer", b"\x00", "flatbuffer")
    schema = b"other_msgs/Missing part\nint32 value\n"
    mcap_with(broken / "unknown-schema.mcap", "demo_msgs/msg/Thing", "ros2msg", schema, "cdr")
    (broken / "garbage.bag").write_bytes(bytes(range(256)) * 40)
    (broken / "empty.mcap").write_bytes(b"")
    names = ["truncated.mcap", "bad-crc.mcap", "unknown-encoding.mcap", "unknown-schema.mcap", "garbage.bag"]
    inputs = raw_drive("car-1", "d1", talker, *(broken / n for n in [*names, "empty.mcap"]))

    manifest = ingest(inputs, run_id="mixed")

    status = {Path(i["uri"]).name: (i["status"], i.get("reason")) for i in manifest["inputs"]}
    assert status == {
        "talker.mcap": ("ok", None),
        "truncated.mcap": ("quarantined", "truncated"),
        "bad-crc.mcap": ("quarantined", "bad_crc"),
        "unknown-encoding.mcap": ("quarantined", "unknown_encoding"),
        "unknown-schema.mcap": ("quarantined", "unknown_schema"),
        "garbage.bag": ("quarantined", "garbage"),
        "empty.mcap": ("quarantined", "empty"),
    }
    # Only the good log's rows: the bad-CRC copy of the same messages decoded most chunks, and
    # none of them may reach the table.
    assert manifest["tables"]["msg_std_msgs_string"]["rows"] == 10
    assert ingest.table("msg_std_msgs_string").select("source_uri").distinct().count() == 1
    # No data file of a quarantined object is left on disk, committed or not.
    written = {
        uri
        for path in (tmp_path / "warehouse").rglob("*.parquet")
        for uri in pq.read_table(path, columns=["source_uri"]).column("source_uri").unique().to_pylist()
    }
    assert written == {inputs[0]["uri"]}
    for item in manifest["inputs"]:
        if item["status"] == "quarantined":
            name = item["uri"].split("://", 1)[1].lstrip("/")
            copy = tmp_path / "quarantine" / "mixed" / name
            reason = json.loads(Path(f"{copy}.reason.json").read_text())
            assert reason["reason"] == item["reason"] and reason["uri"] == item["uri"]
            assert copy.read_bytes() == Path(item["uri"].split("://", 1)[1]).read_bytes()


def test_two_runs_at_once_keep_both_inputs_intact(spark, sensor_data, raw_drive, ingest):
    talker = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    # Same vehicle and day: both runs rewrite the same table partitions.
    runs = [raw_drive("car-2", drive, talker) for drive in ("morning", "evening")]
    manifests = {}

    def run(name, inputs):
        manifests[name] = ingest(inputs, run_id=name)

    threads = [threading.Thread(target=run, args=(f"run-{i}", inputs)) for i, inputs in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(manifests) == {"run-0", "run-1"}
    table = ingest.table("msg_std_msgs_string")
    assert table.count() == 20
    assert sorted(r.drive_id for r in table.select("drive_id").distinct().collect()) == ["evening", "morning"]


def test_a_commit_from_a_stale_snapshot_keeps_what_another_writer_committed_since(
    spark, sensor_data, raw_drive, ingest, monkeypatch
):
    talker = sensor_data / "ros" / "ros2-talker" / "talker.mcap"
    ingest(raw_drive("car-5", "a", talker), run_id="base")
    name = f"{ingest.catalog}.sensor.msg_std_msgs_string"
    real = datafiles._remove_sources
    calls = []

    def racing(session, table, snapshot_id, *rest):
        # Another writer commits rows of drive b to the same partition after the run read the table.
        if table.name().endswith("msg_std_msgs_string"):
            if not calls:
                ingest.table("msg_std_msgs_string").withColumn("drive_id", F.lit("b")).writeTo(name).append()
            calls.append(snapshot_id)
        return real(session, table, snapshot_id, *rest)

    monkeypatch.setattr(datafiles, "_remove_sources", racing)
    ingest(raw_drive("car-5", "c", talker), run_id="late")
    rows = ingest.table("msg_std_msgs_string")
    # Its commit only conflicts with rows of its own inputs, so the other writer's rows stay and
    # no retry was needed; nothing was lost or doubled.
    assert len(calls) == 1
    assert rows.count() == 30
    assert {r.drive_id for r in rows.select("drive_id").distinct().collect()} == {"a", "b", "c"}
