"""Materialization on local Spark over generated Iceberg ETL tables: skips unchanged inputs,
reads only what changed, recomputes only a changed view, and writes online deltas."""

import copy
import json
from pathlib import Path

from pyspark.sql import functions as F

from drivetrain_spark.features.materialize import Catalog, materialize

from .conftest import CATALOG, append, create_etl_tables, drive_rows


def snapshots(spark, catalog: Catalog, registry: dict) -> dict[str, int]:
    from drivetrain_spark.features.iceberg import current_snapshot

    return {v["name"]: current_snapshot(spark, catalog.feature(v["name"])) for v in registry["featureViews"]}


def actions(report) -> dict[str, str]:
    return {v.view: v.action for v in report.views}


def test_materialization_skips_reads_incrementally_and_recomputes_only_a_changed_view(
    spark, registry, tmp_path
):
    catalog = Catalog(CATALOG, "sensor_m", "features_m")
    create_etl_tables(spark, catalog.etl_database)
    append(spark, catalog.etl_database, drive_rows("v1", "d1"))
    append(spark, catalog.etl_database, drive_rows("v1", "d2"))
    output = str(tmp_path / "out")

    first = materialize(spark, registry, catalog, output, "run-1")
    assert set(actions(first).values()) == {"full"}
    motion = spark.table(catalog.feature("drive_motion"))
    assert sorted(r.drive_id for r in motion.collect()) == ["d1", "d2"]
    plan = json.loads((Path(output) / "runs" / "run-1" / "online-plan.json").read_text())
    assert {c["view"] for c in plan["commits"]} == {v["name"] for v in registry["featureViews"]}
    delta_rows = [
        json.loads(line)
        for load in plan["loads"]
        if load["view"] == "drive_second_motion"
        for line in (Path(output) / load["key"]).read_text().splitlines()
    ]
    # The online delta holds each drive's latest second only.
    assert sorted(r["drive_id"] for r in delta_rows) == ["d1", "d2"]
    assert all(isinstance(r["event_timestamp_us"], int) for r in delta_rows)

    # Nothing new: every view is skipped and no feature table gets a snapshot.
    before = snapshots(spark, catalog, registry)
    again = materialize(spark, registry, catalog, output, "run-2")
    assert set(actions(again).values()) == {"skipped"}
    assert snapshots(spark, catalog, registry) == before
    assert json.loads((Path(output) / "runs" / "run-2" / "online-plan.json").read_text()) == {
        "loads": [],
        "commits": [],
    }

    # An offline push (POST /push to=offline writes such an object): only its view takes it in.
    motion_view = next(v for v in registry["featureViews"] if v["name"] == "drive_motion")
    pushed_row = {
        "drive_id": "p1",
        "event_timestamp_us": 1_533_200_000_000_000,
        "created_us": 1_533_200_000_000_000,
    }
    pushed_row |= {f["name"]: (7 if f["type"] == "Int64" else 7.5) for f in motion_view["features"]}
    push_dir = Path(output) / "push" / "drive_motion"
    push_dir.mkdir(parents=True)
    (push_dir / "000001533200000-a.json").write_text(
        json.dumps({"view": "drive_motion", "version": motion_view["version"], "rows": [pushed_row]})
    )
    pushed = materialize(spark, registry, catalog, output, "run-2b")
    assert actions(pushed) == {**{v: "skipped" for v in actions(pushed)}, "drive_motion": "incremental"}
    assert spark.table(catalog.feature("drive_motion")).where("drive_id = 'p1'").first().speed_samples == 7

    # A new drive appended to the CAN table: the CAN views recompute that drive alone.
    d1_motion = (
        spark.table(catalog.feature("drive_motion")).where("drive_id = 'd1'").drop("created").collect()
    )
    append(spark, catalog.etl_database, {"can_signals": drive_rows("v1", "d3")["can_signals"]})
    third = materialize(spark, registry, catalog, output, "run-3")
    assert actions(third) == {
        "drive_motion": "incremental",
        "drive_second_motion": "incremental",
        "drive_imu": "skipped",
        "drive_hard_braking": "skipped",
        "vehicle_hard_braking": "skipped",
    }
    assert {v.view: v.entities_recomputed for v in third.views if v.action == "incremental"} == {
        "drive_motion": 1,
        "drive_second_motion": 1,
    }
    motion = spark.table(catalog.feature("drive_motion"))
    assert sorted(r.drive_id for r in motion.collect()) == ["d1", "d2", "d3", "p1"]
    assert motion.where("drive_id = 'd1'").drop("created").collect() == d1_motion

    # The ETL replaces d2's CAN rows (an overwrite snapshot): the changelog finds d2.
    table = f"{CATALOG}.{catalog.etl_database}.can_signals"
    replaced = spark.createDataFrame(
        drive_rows("v1", "d2", seconds=2)["can_signals"], spark.table(table).schema
    )
    kept = spark.table(table).where("drive_id != 'd2'")
    kept.unionByName(replaced).writeTo(table).overwrite(F.col("vehicle_id") == "v1")
    fourth = materialize(spark, registry, catalog, output, "run-4")
    assert actions(fourth)["drive_motion"] == "incremental"
    assert spark.table(catalog.feature("drive_motion")).where("drive_id = 'd2'").first().speed_samples == 20

    # A changed transform (a new version of drive_imu only) recomputes that view only.
    changed = copy.deepcopy(registry)
    imu = next(v for v in changed["featureViews"] if v["name"] == "drive_imu")
    imu["version"] = "0" * 16
    fifth = materialize(spark, changed, catalog, output, "run-5")
    assert actions(fifth) == {
        "drive_motion": "skipped",
        "drive_second_motion": "skipped",
        "drive_imu": "full",
        "drive_hard_braking": "skipped",
        "vehicle_hard_braking": "skipped",
    }
    assert [v.view for v in fifth.views if v.action == "skipped"] == fifth.skipped


def test_online_delta_writes_nan_as_null_and_keeps_each_entitys_newest_row(spark, tmp_path):
    import datetime as dt

    from drivetrain_spark.features.materialize import _latest_per_entity

    t0 = dt.datetime(2024, 1, 1)
    rows = spark.createDataFrame(
        [
            ("d1", t0, t0, 1.5, 2.0),
            ("d1", t0 + dt.timedelta(seconds=1), t0, float("nan"), float("inf")),
            ("d2", t0, t0, None, float("nan")),
        ],
        "drive_id string, event_timestamp timestamp, created timestamp, speed double, jerk double",
    )
    out = str(tmp_path / "delta")
    _latest_per_entity(rows, ["drive_id"]).write.json(out)
    lines = [
        json.loads(line) for f in sorted(Path(out).glob("*.json")) for line in f.read_text().splitlines()
    ]
    by_drive = {r["drive_id"]: r for r in lines}
    # d1 is its newer row (jerk Inf). NaN has no value (Feast drops it); Infinity is kept.
    assert "speed" not in by_drive["d1"] or by_drive["d1"]["speed"] is None
    assert by_drive["d1"]["jerk"] in ("Infinity", float("inf"))
    assert by_drive["d2"].get("speed") is None and by_drive["d2"].get("jerk") is None
    assert all(v != "NaN" for r in lines for v in r.values())
