"""Direct writes: tasks write every table's Parquet files themselves (pyarrow, with the table's
Iceberg field ids) and the driver commits them in one snapshot per table. CAN's ``can_signals``
here in detail; the logs' tables against what the Spark row path made of every real log."""

import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from generated_logs import json_mcap, ros2_sqlite_bag
from pyspark.sql import functions as F

from drivetrain_spark import can, datafiles, warehouse

DAY_NS = 86_400 * 10**9


@pytest.fixture(scope="module")
def frames(comma_segment):
    """30,000 real frames; the second half moved one day later, so rows fall in two days."""
    table, _ = can.comma2k19_frames(str(comma_segment))
    table = table.slice(0, 30_000)
    t = table.column("t").cast(pa.int64()).to_numpy().copy()
    t[15_000:] += DAY_NS
    return table.set_column(0, "t", pa.array(t).cast(pa.timestamp("ns", tz="UTC")))


@pytest.fixture(autouse=True)
def small_units(monkeypatch):
    """Units of 10,000 frames (one row group), so each object spreads over three tasks."""
    monkeypatch.setattr(can, "ROWS_PER_UNIT", 10_000)


def place(tmp_path: Path, vehicle: str, drive: str, table: pa.Table) -> dict:
    path = tmp_path / "raw" / vehicle / drive / "frames.can.parquet"
    can.write_frames(table, str(path), row_group_size=10_000)
    return {"uri": path.as_uri(), "bytes": path.stat().st_size}


def data_files(spark, ingest) -> dict[str, int]:
    rows = spark.sql(
        f"SELECT file_path, record_count FROM {ingest.catalog}.sensor.can_signals.files"
    ).collect()
    return {r.file_path: r.record_count for r in rows}


def iceberg(spark, ingest):
    return warehouse.iceberg_table(spark, f"{ingest.catalog}.sensor.can_signals")


def test_files_carry_the_table_field_ids_metrics_and_read_back_exactly(spark, ingest, frames, dbc, tmp_path):
    manifest = ingest([place(tmp_path, "car-a", "d1", frames)], config={"dbc": dbc})

    entry = manifest["tables"]["can_signals"]
    blocks, _ = can.decode_frames(frames, can.compile_dbc(dbc, None))
    assert entry["rows"] == sum(len(b["t_ns"]) for b in blocks) > 50_000
    assert entry["checksum"].startswith("rowhash64:")
    assert entry["partitions"] == [
        "vehicle_id=car-a/log_time_day=2018-08-02",
        "vehicle_id=car-a/log_time_day=2018-08-03",
    ]
    table = iceberg(spark, ingest)
    schema = table.schema()
    files = data_files(spark, ingest)
    assert len(files) == 4  # three units; the middle one's rows fall in both days
    for path in files:
        written = pq.read_schema(path.removeprefix("file:"))
        for field in written:
            assert int(field.metadata[b"PARQUET:field_id"]) == schema.findField(field.name).fieldId()
    # Column metrics came from the footers: full bounds on source_uri, time bounds per file.
    source_id = schema.findField("source_uri").fieldId()
    time_id = schema.findField("log_time").fieldId()
    bounds = spark.sql(f"SELECT lower_bounds, upper_bounds FROM {ingest.catalog}.sensor.can_signals.files")
    for row in bounds.collect():
        assert (
            row.lower_bounds[source_id]
            == row.upper_bounds[source_id]
            == manifest["inputs"][0]["uri"].encode()
        )
        lower, upper = (int.from_bytes(b[time_id], "little") for b in (row.lower_bounds, row.upper_bounds))
        assert lower < upper
    # Spark reads the files back as Iceberg's own: same rows, same checksum as the manifest.
    assert datafiles.table_checksum(ingest.table("can_signals")) == (entry["rows"], entry["checksum"])
    first = ingest.table("can_signals").where("message = 'WHEEL_SPEEDS'").orderBy("log_time_ns").first()
    wheel = next(b for b in blocks if b["message"] == "WHEEL_SPEEDS" and b["signal"] == first.signal)
    assert first.value == wheel["value"][np.argmin(wheel["t_ns"])]


def test_partition_pruning_plans_only_the_matching_files(spark, ingest, frames, dbc, tmp_path):
    inputs = [place(tmp_path, vehicle, "d1", frames) for vehicle in ("car-a", "car-b")]
    ingest(inputs, config={"dbc": dbc})

    table = iceberg(spark, ingest)
    expressions = spark._jvm.org.apache.iceberg.expressions.Expressions
    wanted = getattr(expressions, "and")(  # "and" is a Python keyword
        expressions.equal("vehicle_id", "car-b"),
        expressions.greaterThanOrEqual("log_time", "2018-08-03T00:00:00+00:00"),
    )
    planned = []
    iterator = table.newScan().filter(wanted).planFiles().iterator()
    while iterator.hasNext():
        planned.append(iterator.next().file().location())
    partitions = spark.sql(
        f"SELECT file_path, partition.vehicle_id AS v, partition.log_time_day AS d "
        f"FROM {ingest.catalog}.sensor.can_signals.files"
    ).collect()
    matching = {r.file_path for r in partitions if r.v == "car-b" and r.d.isoformat() == "2018-08-03"}
    assert len(partitions) == 8
    assert set(planned) == matching and len(matching) == 2
    rows = ingest.table("can_signals").where(
        (F.col("vehicle_id") == "car-b")
        & (F.col("log_time") >= F.lit("2018-08-03 00:00:00").cast("timestamp"))
    )
    files = data_files(spark, ingest)
    assert rows.count() == sum(files[p] for p in matching)


def test_a_rerun_replaces_exactly_the_inputs_rows(spark, ingest, frames, dbc, tmp_path):
    a = place(tmp_path, "car-a", "d1", frames)
    b = place(tmp_path, "car-a", "d2", frames)  # same vehicle and days: shares partitions with a
    first = ingest([a, b], run_id="first", config={"dbc": dbc})
    b_rows = ingest.table("can_signals").where(F.col("drive_id") == "d2")
    b_before = datafiles.table_checksum(b_rows)
    before = data_files(spark, ingest)

    second = ingest([a], run_id="second", config={"dbc": dbc})

    entry, again = first["tables"]["can_signals"], second["tables"]["can_signals"]
    assert again["snapshotId"] != entry["snapshotId"]
    assert again["rows"] * 2 == entry["rows"]
    a_rows = ingest.table("can_signals").where(F.col("drive_id") == "d1")
    assert datafiles.table_checksum(a_rows) == (again["rows"], again["checksum"])
    assert datafiles.table_checksum(b_rows) == b_before  # the other object's rows untouched
    after = data_files(spark, ingest)
    assert len(after) == len(before)  # a's old files left the snapshot, its new ones came in
    assert len(set(after) & set(before)) == len(before) // 2
    # The first run's snapshot is still readable (time travel) with what it committed.
    name = f"{ingest.catalog}.sensor.can_signals"
    old = spark.sql(f"SELECT * FROM {name} VERSION AS OF {entry['snapshotId']}")
    assert datafiles.table_checksum(old) == (entry["rows"], entry["checksum"])
    assert second["unknownCanIds"] == {k: n // 2 for k, n in first["unknownCanIds"].items()} != {}


def test_a_task_failure_leaves_the_table_at_its_previous_snapshot(spark, ingest, frames, dbc, tmp_path):
    a = place(tmp_path, "car-a", "d1", frames)
    first = ingest([a], run_id="first", config={"dbc": dbc})
    table = iceberg(spark, ingest)
    # A plain file where car-z's partition directory must go: car-z's task cannot write.
    blocked = Path(table.location().removeprefix("file:")) / "data" / "vehicle_id=car-z"
    blocked.write_bytes(b"not a directory")

    with pytest.raises(Exception, match="vehicle_id=car-z"):
        ingest([a, place(tmp_path, "car-z", "d1", frames)], run_id="second", config={"dbc": dbc})

    name = f"{ingest.catalog}.sensor.can_signals"
    assert warehouse.current_snapshot(spark, name) == int(first["tables"]["can_signals"]["snapshotId"])
    entry = first["tables"]["can_signals"]
    assert datafiles.table_checksum(ingest.table("can_signals")) == (entry["rows"], entry["checksum"])
    # The failed run left no file behind: every data file on disk is one the table references.
    referenced = {Path(urlparse(p).path) for p in data_files(spark, ingest)}
    assert set(blocked.parent.rglob("*.parquet")) == referenced


def test_a_file_mixing_inputs_is_rewritten_without_the_inputs_rows(spark, ingest, frames, dbc, tmp_path):
    a = place(tmp_path, "car-a", "d1", frames)
    b = place(tmp_path, "car-a", "d2", frames)
    ingest([a, b], run_id="first", config={"dbc": dbc})
    name = f"{ingest.catalog}.sensor.can_signals"
    # As the Spark path wrote it: one file per partition holding both objects' rows.
    spark.table(name).coalesce(1).writeTo(name).overwritePartitions()
    assert len(data_files(spark, ingest)) == 2
    b_rows = ingest.table("can_signals").where(F.col("drive_id") == "d2")
    b_before = datafiles.table_checksum(b_rows)

    again = ingest([a], run_id="second", config={"dbc": dbc})["tables"]["can_signals"]

    a_rows = ingest.table("can_signals").where(F.col("drive_id") == "d1")
    assert datafiles.table_checksum(a_rows) == (again["rows"], again["checksum"])
    assert datafiles.table_checksum(b_rows) == b_before
    assert ingest.table("can_signals").count() == 2 * again["rows"]


def test_the_row_checksum_ignores_order_and_counts_nulls_as_absent():
    table = pa.table(
        {
            "a": pa.array([1, 2, 3], pa.int64()),
            "s": pa.array(["x", "y", None]),
            "n": pa.array([{"p": 1.0, "q": [1, 2]}, None, {"p": -0.0, "q": []}]),
        }
    )
    total = datafiles.row_hash_sum(table)
    # The tasks hash dictionary-encoded strings; a table read back has plain ones: same sum.
    assert datafiles.row_hash_sum(table.set_column(1, "s", table.column("s").dictionary_encode())) == total
    assert datafiles.row_hash_sum(table.take([2, 0, 1])) == total
    assert datafiles.row_hash_sum(table.append_column("later", pa.nulls(3, pa.int32()))) == total
    assert datafiles.row_hash_sum(pa.concat_tables([table, table.slice(0, 1)])) != total  # a duplicate
    swapped = table.set_column(1, "s", pa.array(["y", "x", None]))
    assert datafiles.row_hash_sum(swapped) != total  # same values, different rows
    zero = table.set_column(0, "a", pa.array([0, 2, 3], pa.int64()))
    assert datafiles.row_hash_sum(zero) != datafiles.row_hash_sum(
        table.set_column(0, "a", pa.array([None, 2, 3]))
    )
    reordered = table.set_column(2, "n", pa.array([{"p": 1.0, "q": [2, 1]}, None, {"p": 0.0, "q": []}]))
    assert datafiles.row_hash_sum(reordered) != total  # list order counts; -0.0 is 0.0


def test_a_column_of_nulls_only_adds_nothing_to_the_checksum():
    # conform() fills a column a batch lacks (a field added by another file's schema) with
    # nulls; strings and dictionaries of nulls only have nothing to look up.
    table = pa.table({"a": pa.array([1, 2, 3], pa.int64())})
    total = datafiles.row_hash_sum(table)
    for column in (
        pa.nulls(3, pa.string()),
        pa.nulls(3, pa.binary()),
        pa.nulls(3, pa.string()).dictionary_encode(),
        pa.nulls(3, pa.list_(pa.string())),
    ):
        assert datafiles.row_hash_sum(table.append_column("later", column)) == total


@pytest.mark.parametrize("lists,width", [(3, 70_000), (10_000, 9)])
def test_lists_of_one_length_sum_as_the_same_rows_among_lists_of_many_lengths(lists, width):
    # Lists of one length (a point cloud's channels) take a blocked path (one list or many a
    # block); with a ragged row beside them, the general one. Sums over rows are additive.
    values = np.arange(lists * width, dtype=np.float32).reshape(lists, width)
    values[1, 5] = np.nan
    values[2, 7] = -0.0
    uniform = pa.table(
        {
            "v": pa.array(list(values), pa.list_(pa.float32())),
            "empty": pa.array([[]] * (lists - 1) + [None], pa.list_(pa.int32())),
        }
    )
    ragged = pa.table(
        {"v": pa.array([[1.5, None]], pa.list_(pa.float32())), "empty": pa.array([[7]], pa.list_(pa.int32()))}
    )
    both = pa.concat_tables([uniform, ragged])
    assert datafiles.row_hash_sum(both) == (
        datafiles.row_hash_sum(uniform) + datafiles.row_hash_sum(ragged)
    ) % (1 << 64)
    halves = datafiles.row_hash_sum(uniform.slice(0, 2)) + datafiles.row_hash_sum(uniform.slice(2))
    assert datafiles.row_hash_sum(uniform) == halves % (1 << 64)


def test_long_lists_of_numbers_hash_as_bytes_whatever_their_batch():
    # Point-cloud channels (long lists without nulls) are hashed as their values' bytes, other
    # lists element by element: the choice is the list's own, so any batching gives one sum.
    width = 300
    cloud = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    lists = [cloud, cloud[:10], None, np.concatenate([cloud[:-1], [np.nan]]).astype(np.float32)]
    table = pa.table({"v": pa.array([None if x is None else list(x) for x in lists], pa.list_(pa.float32()))})
    total = datafiles.row_hash_sum(table)
    one_by_one = sum(datafiles.row_hash_sum(table.slice(i, 1)) for i in range(table.num_rows))
    assert one_by_one % (1 << 64) == total
    assert datafiles.row_hash_sum(pa.Table.from_batches(table.to_batches(max_chunksize=1))) == total
    large = table.cast(pa.schema([pa.field("v", pa.large_list(pa.float32()))]))
    assert datafiles.row_hash_sum(large) == total

    def one(values) -> int:
        return datafiles.row_hash_sum(pa.table({"v": pa.array([values], pa.list_(pa.float32()))}))

    signed = cloud.copy()
    signed[width // 2] = -0.0
    unsigned = signed.copy()
    unsigned[width // 2] = 0.0
    assert one(list(signed)) == one(list(unsigned))  # -0.0 is 0.0
    payload = np.frombuffer(np.array([0x7FC00001], np.uint32).tobytes(), np.float32)[0]
    other_nan = lists[3].copy()
    other_nan[-1] = payload
    assert one(list(other_nan)) == one(list(lists[3]))  # one NaN
    swapped = cloud.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert one(list(swapped)) != one(list(cloud))
    nudged = cloud.copy()
    nudged[7] = np.nextafter(nudged[7], np.float32(2))
    assert one(list(nudged)) != one(list(cloud))
    with_null = [*cloud[:-1].tolist(), None]  # a null element: hashed element by element
    assert one(with_null) != one([*cloud[:-1].tolist(), 0.0])
    # Columns Iceberg promotes (float to double, int to long) keep their sums.
    doubles = pa.schema([pa.field("v", pa.list_(pa.float64()))])
    assert datafiles.row_hash_sum(table.cast(doubles)) == total
    finer = pa.table({"v": pa.array([[float(x) + 1e-12 for x in cloud]], pa.list_(pa.float64()))})
    assert datafiles.row_hash_sum(finer) != one(list(cloud))  # not a float's value: all 64 bits
    ints = pa.table({"v": pa.array([list(range(-5, width))], pa.list_(pa.int32()))})
    longs = ints.cast(pa.schema([pa.field("v", pa.list_(pa.int64()))]))
    assert datafiles.row_hash_sum(longs) == datafiles.row_hash_sum(ints)
    wide = pa.table({"v": pa.array([[*range(width), 1 << 40]], pa.list_(pa.int64()))})
    assert datafiles.row_hash_sum(wide) != datafiles.row_hash_sum(
        pa.table({"v": pa.array([[*range(width), 0]], pa.list_(pa.int64()))})
    )


def test_blobs_hash_alike_from_the_buffer_and_through_a_dictionary():
    # A batch of blobs (mean value of 64+ bytes) is hashed in place, one of short strings
    # through a dictionary; a value gets the same word either way.
    blobs = pa.array([bytes(range(200)), None, b"x" * 64, b"short"], pa.binary())
    table = pa.table({"b": blobs})
    shorts = pa.table({"b": pa.array([b"a", b"b", b"c"] * 100, pa.binary())})
    both = pa.concat_tables([table, shorts]).combine_chunks()  # mean under 64 bytes
    assert datafiles.row_hash_sum(both) == (
        datafiles.row_hash_sum(table) + datafiles.row_hash_sum(shorts)
    ) % (1 << 64)
    sliced = pa.concat_tables([shorts, table]).combine_chunks().slice(shorts.num_rows)
    assert datafiles.row_hash_sum(sliced) == datafiles.row_hash_sum(table)
    strings = pa.table({"b": pa.array([None if v is None else v.hex() for v in blobs.to_pylist()])})
    assert datafiles.row_hash_sum(strings) == datafiles.row_hash_sum(
        pa.table({"b": strings.column("b").dictionary_encode()})
    )


def test_rows_of_the_inputs_committed_meanwhile_fail_validation_and_the_commit_is_retried(
    spark, ingest, frames, dbc, tmp_path, monkeypatch
):
    a = place(tmp_path, "car-a", "d1", frames)
    first = ingest([a], run_id="first", config={"dbc": dbc})["tables"]["can_signals"]
    name = f"{ingest.catalog}.sensor.can_signals"
    real = datafiles._remove_sources
    calls = []

    def racing(*args):
        removal = real(*args)
        if not calls:  # another writer adds rows of the same object after this run read the table
            spark.table(name).writeTo(name).append()
        calls.append(len(removal.deleted))
        return removal

    monkeypatch.setattr(datafiles, "_remove_sources", racing)
    again = ingest([a], run_id="second", config={"dbc": dbc})["tables"]["can_signals"]

    assert calls[0] == 4 and calls[1] > 4  # the retry also removes the files the other writer added
    assert (again["rows"], again["checksum"]) == (first["rows"], first["checksum"])
    assert datafiles.table_checksum(ingest.table("can_signals")) == (first["rows"], first["checksum"])


def test_a_run_of_logs_and_can_commits_both_paths_and_reruns_unchanged(
    spark, ingest, frames, dbc, tmp_path, sensor_data, raw_drive
):
    inputs = [*raw_drive("car-a", "d1", sensor_data / "ros" / "ros2-talker" / "talker.mcap")]
    inputs.append(place(tmp_path, "car-a", "d1", frames))
    first = ingest(inputs, run_id="first", config={"dbc": dbc})
    second = ingest(inputs, run_id="second", config={"dbc": dbc})

    assert all(i["status"] == "ok" for i in first["inputs"])
    assert {"msg_std_msgs_string", "can_signals", "can_unknown_ids"} <= set(first["tables"])
    for name, entry in first["tables"].items():
        again = second["tables"][name]
        assert (again["rows"], again["checksum"]) == (entry["rows"], entry["checksum"]), name
        assert ingest.table(name).count() == entry["rows"], name
    assert datafiles.table_checksum(ingest.table("can_signals")) == (
        second["tables"]["can_signals"]["rows"],
        second["tables"]["can_signals"]["checksum"],
    )


ALL_LOGS = [
    "lidar/pointcloudset-ouster/ouster-os1-64.mcap",
    "lidar/embag-luminar/luminar-lz4.bag",
    "gnss-imu/robot-localization-husky/husky-gnss-imu-bz2.bag",
    "ros/ros1-turtlesim/example-lz4.bag",
    "ros/ros1-turtlesim/example.bag",
    "protobuf/keelson-ais/ais-protobuf-zstd.mcap",
    "ros/ros2-talker/talker.mcap",
    "ros/ros2-cdr-test/cdr_test_0.mcap",
    "ros/ros2-only-topics/only_topics.mcap",
]
# What the Spark row path (decode -> Spark rows -> Iceberg's writer, main at 6249730) committed
# for ALL_LOGS plus a JSON MCAP and a ROS 2 sqlite bag under car-1/2020-01-01: per table its
# schema, rows per object and ``datafiles.table_checksum`` with source_uri cut to the file name.
# Checksums of the tables holding long lists or values of 64+ bytes were re-recorded when those
# came to be hashed as bytes (SHA-1), from the direct path, whose earlier sums matched these.
SPARK_PATH = json.loads((Path(__file__).parent / "data" / "spark_path_tables.json").read_text())


def field_ids(fields) -> list[tuple[str, bytes]]:
    """(path, Parquet field id) of every field, nested ones included."""
    out = []
    for f in fields:
        out.append((f.name, (f.metadata or {}).get(b"PARQUET:field_id")))
        kind = f.type
        if pa.types.is_list(kind):
            out += [(f"{f.name}.{p}", i) for p, i in field_ids([kind.value_field])]
        elif pa.types.is_struct(kind):
            out += [(f"{f.name}.{p}", i) for p, i in field_ids(list(kind))]
    return out


def test_every_real_log_gives_the_spark_row_paths_tables(spark, ingest, sensor_data, raw_drive, tmp_path):
    inputs = raw_drive("car-1", "2020-01-01", *(sensor_data / p for p in ALL_LOGS))
    folder = Path(inputs[0]["uri"].removeprefix("file://")).parent
    generated = [json_mcap(folder / "poses.mcap")]
    db3 = ros2_sqlite_bag(sensor_data / "ros" / "ros2-talker" / "talker.mcap", tmp_path / "x")
    for f in db3.parent.iterdir():
        shutil.copyfile(f, folder / f.name)
    generated.append(folder / db3.name)
    inputs += [{"uri": p.as_uri(), "bytes": p.stat().st_size} for p in generated]

    manifest = ingest(inputs)

    assert [i["status"] for i in manifest["inputs"]] == ["ok"] * len(inputs)
    # A channel without messages makes its table, empty and not in the manifest, on both paths.
    assert set(manifest["tables"]) == {name for name, t in SPARK_PATH.items() if t["rows"]}
    for name, expected in SPARK_PATH.items():
        table = ingest.table(name)
        entry = manifest["tables"].get(name, {"rows": 0, "checksum": datafiles.digest(0)})
        assert datafiles.table_checksum(table) == (entry["rows"], entry["checksum"]), name
        assert table.schema.simpleString() == expected["schema"], name
        named = table.withColumn("source_uri", F.regexp_extract("source_uri", "[^/]+$", 0))
        per_object = {r[0]: r[1] for r in named.groupBy("source_uri").count().collect()}
        assert per_object == expected["rowsPerObject"], name
        assert datafiles.table_checksum(named) == (expected["rows"], expected["checksum"]), name
    # Nested columns carry the table's field ids too (point-cloud channels, arrays of structs).
    for name in ("point_clouds", "msg_test_msgs_arrays", "msg_tf2_msgs_tfmessage"):
        table = warehouse.iceberg_table(spark, f"{ingest.catalog}.sensor.{name}")
        schema_json = spark._jvm.org.apache.iceberg.SchemaParser.toJson(table.schema())
        paths = [
            r.file_path
            for r in spark.sql(f"SELECT file_path FROM {ingest.catalog}.sensor.{name}.files").collect()
        ]
        assert paths, name
        for path in paths:
            written = pq.read_schema(urlparse(path).path)
            assert field_ids(written) == field_ids(datafiles.arrow_schema(schema_json)), name
