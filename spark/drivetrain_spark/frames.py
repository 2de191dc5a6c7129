"""ML-ready samples and event tags, derived per drive from the committed tables.

``frames``: for every drive a run touched, one row per tick at ``rateHz`` from the drive's
first to its last selected sample; each configured column is the latest value at or before
the tick, if no older than ``toleranceMs`` (an as-of join), else null.

``events``: scene tags. ``hard_braking``: the speed signal's deceleration, measured over a
trailing ``windowS``, stays at or above ``thresholdMps2`` for at least ``minDurationS``.

Both read the tables as committed (a drive's CAN and logs may arrive in different runs), work
one drive per task (``applyInPandas``), and replace the drive's rows in one commit each.

Config (``--config``)::

    {"frames": {"rateHz": 10, "toleranceMs": 100, "columns": [
        {"name": "speed_kph", "table": "can_signals", "message": "SPEED", "signal": "SPEED"},
        {"name": "accel_x", "table": "imu", "field": "linear_acceleration.x", "topic": "/imu/data"}]},
     "events": {"hardBraking": {"speed": {"table": "can_signals", "message": "SPEED",
        "signal": "SPEED", "scale": 0.2777778}, "thresholdMps2": 3.0, "minDurationS": 0.3,
        "windowS": 0.5}}}
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from drivetrain_spark import warehouse
from drivetrain_spark.tables import EVENTS, FRAMES

EVENT_COLUMNS = [
    "event_type", "start_ns", "end_ns", "duration_s", "peak_decel_mps2", "speed_start_mps", "speed_end_mps"
]  # fmt: skip


def derived_source(kind: str, vehicle: str, drive: str) -> str:
    """source_uri of derived rows: one per drive, so a drive's rows are replaced together."""
    return f"drivetrain:{kind}/{vehicle}/{drive}"


def series(
    spark: SparkSession, catalog: str, database: str, spec: dict[str, Any], drives: DataFrame
) -> DataFrame:
    """One configured signal as (vehicle_id, drive_id, name, t, value) rows for the drives."""
    table = spark.table(f"{catalog}.{database}.{spec['table']}").join(drives, ["vehicle_id", "drive_id"])
    if spec["table"] == "can_signals":
        table = table.where((F.col("message") == spec["message"]) & (F.col("signal") == spec["signal"]))
        value = F.col("value")
    else:
        value = F.col(spec["field"])
    if "topic" in spec:
        table = table.where(F.col("topic") == spec["topic"])
    scale = float(spec.get("scale", 1.0))
    return table.select(
        "vehicle_id",
        "drive_id",
        F.lit(spec["name"]).alias("name"),
        F.col("log_time_ns").alias("t"),
        (value.cast("double") * F.lit(scale)).alias("value"),
    )


def frames_schema(columns: list[str]) -> StructType:
    return StructType([*FRAMES.schema.fields, *(StructField(c, DoubleType(), True) for c in columns)])


def sample_drive(rate_hz: float, tolerance_ms: float, columns: list[str]):
    step = round(1e9 / rate_hz)
    tolerance = int(tolerance_ms * 1e6)

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        vehicle, drive = rows["vehicle_id"].iloc[0], rows["drive_id"].iloc[0]
        start, end = int(rows["t"].min()), int(rows["t"].max())
        ticks = np.arange(start - start % step, end + 1, step, dtype=np.int64)
        grid = pd.DataFrame({"t": ticks})
        out = pd.DataFrame({"sample_index": np.arange(len(ticks), dtype=np.int64)})
        for name in columns:
            signal = rows[rows["name"] == name][["t", "value"]].sort_values("t", kind="stable")
            signal = signal.drop_duplicates("t", keep="last")
            joined = pd.merge_asof(grid, signal, on="t", direction="backward", tolerance=tolerance)
            out[name] = joined["value"].to_numpy()
        source = derived_source("frames", vehicle, drive)
        stamps = pd.to_datetime(ticks, unit="ns", utc=True)
        common = {
            "vehicle_id": vehicle,
            "drive_id": drive,
            "source_uri": source,
            "topic": "frames",
            "log_time": stamps,
            "publish_time": stamps,
            "log_time_ns": ticks,
            "rate_hz": float(rate_hz),
        }
        frame = pd.concat([pd.DataFrame(common), out], axis=1)
        return frame[[f.name for f in frames_schema(columns).fields]]

    return run


def hard_braking(threshold: float, min_duration_s: float, window_s: float, signal: str):
    window = int(window_s * 1e9)

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.sort_values("t", kind="stable").drop_duplicates("t", keep="last")
        t, v = rows["t"].to_numpy(np.int64), rows["value"].to_numpy(np.float64)
        vehicle, drive = rows["vehicle_id"].iloc[0], rows["drive_id"].iloc[0]
        # Deceleration over a trailing window: against the last sample at least window_s older.
        back = np.searchsorted(t, t - window, side="right") - 1
        valid = back >= 0
        decel = np.full(len(t), np.nan)
        decel[valid] = -(v[valid] - v[back[valid]]) / ((t[valid] - t[back[valid]]) / 1e9)
        braking = np.nan_to_num(decel) >= threshold
        events = []
        edges = np.flatnonzero(np.diff(np.concatenate([[0], braking.astype(np.int8), [0]])))
        for first, stop in zip(edges[::2], edges[1::2], strict=True):
            last = stop - 1
            start_ns = int(t[back[first]]) if back[first] >= 0 else int(t[first])
            duration = (t[last] - start_ns) / 1e9
            if duration < min_duration_s:
                continue
            events.append(
                {
                    "event_type": "hard_braking",
                    "start_ns": start_ns,
                    "end_ns": int(t[last]),
                    "duration_s": duration,
                    "peak_decel_mps2": float(np.nanmax(decel[first:stop])),
                    "speed_start_mps": float(v[np.searchsorted(t, start_ns)]),
                    "speed_end_mps": float(v[last]),
                }
            )
        frame = pd.DataFrame(events, columns=EVENT_COLUMNS)
        starts = pd.to_datetime(frame["start_ns"], unit="ns", utc=True)
        frame = frame.assign(
            vehicle_id=vehicle,
            drive_id=drive,
            source_uri=derived_source("events", vehicle, drive),
            topic="events",
            log_time=starts,
            publish_time=starts,
            log_time_ns=frame["start_ns"].astype(np.int64),
            start_time=starts,
            end_time=pd.to_datetime(frame["end_ns"], unit="ns", utc=True),
            signal=signal,
        )
        return frame[[f.name for f in EVENTS.schema.fields]]

    return run


def derive(
    spark: SparkSession,
    args: argparse.Namespace,
    config: Any,
    warehouse_uri: str,
    drives: list[tuple[str, str]],
) -> dict[str, dict[str, Any]]:
    """Recomputes frames and events of the given drives; returns their manifest entries."""
    catalog, database = args.catalog_name, args.database
    drive_df = spark.createDataFrame(drives, "vehicle_id string, drive_id string")
    vehicles = sorted({v for v, _ in drives})
    existing = {r.tableName for r in spark.sql(f"SHOW TABLES IN {catalog}.{database}").collect()}
    results: dict[str, dict[str, Any]] = {}

    def commit(table: str, rows: DataFrame) -> None:
        sources = [derived_source(table, v, d) for v, d in drives]
        name = warehouse.ident(catalog, database, table)
        done = warehouse.replace_sources(spark, name, rows, sources, vehicles, args.run_id, warehouse_uri)
        if done is not None:
            results[table] = done.manifest()

    frames_cfg = config.frames or {}
    specs = [s for s in frames_cfg.get("columns", []) if s["table"] in existing]
    if specs:
        long = _union([series(spark, catalog, database, s, drive_df) for s in specs])
        names = [s["name"] for s in frames_cfg["columns"]]
        udf = sample_drive(
            float(frames_cfg.get("rateHz", 10)), float(frames_cfg.get("toleranceMs", 100)), names
        )
        commit("frames", long.groupBy("vehicle_id", "drive_id").applyInPandas(udf, frames_schema(names)))

    braking = (config.events or {}).get("hardBraking")
    if braking and braking["speed"]["table"] in existing:
        speed = series(spark, catalog, database, {"name": "speed", **braking["speed"]}, drive_df)
        label = braking["speed"].get("signal") or braking["speed"].get("field")
        udf = hard_braking(
            float(braking.get("thresholdMps2", 3.0)),
            float(braking.get("minDurationS", 0.3)),
            float(braking.get("windowS", 0.5)),
            str(label),
        )
        commit("events", speed.groupBy("vehicle_id", "drive_id").applyInPandas(udf, EVENTS.schema))
    return results


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out
