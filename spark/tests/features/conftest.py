"""An Iceberg file-system catalog on the suite's Spark session, and ETL tables of the ETL
pillar's schema (drivetrain_spark/tables.py) filled with generated rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from drivetrain_spark.tables import CAN_SIGNALS, EVENTS, IMU
from drivetrain_spark.warehouse import ensure_database, ensure_table, ident

REPO = Path(__file__).resolve().parents[3]
CATALOG = "features_test"

# The ETL pillar's own table definitions: the generated rows below follow its contract.
ETL_TABLES = {t.name: t for t in (CAN_SIGNALS, IMU, EVENTS)}


@pytest.fixture(scope="session")
def spark(spark, tmp_path_factory: pytest.TempPathFactory) -> SparkSession:
    """The suite's session (tests/conftest.py) with a file-system Iceberg catalog of our own."""
    warehouse = tmp_path_factory.mktemp("feature-warehouse")
    prefix = f"spark.sql.catalog.{CATALOG}"
    spark.conf.set(prefix, "org.apache.iceberg.spark.SparkCatalog")
    spark.conf.set(f"{prefix}.type", "hadoop")
    spark.conf.set(f"{prefix}.warehouse", str(warehouse))
    return spark


@pytest.fixture(scope="session")
def registry() -> dict:
    return json.loads((REPO / "features" / "registry.json").read_text())


def create_etl_tables(spark: SparkSession, database: str) -> None:
    ensure_database(spark, CATALOG, database)
    for table in ETL_TABLES.values():
        ensure_table(spark, ident(CATALOG, database, table.name), table.schema)


T0 = dt.datetime(2018, 8, 2, 8, 34, 47, tzinfo=dt.UTC)


def _common(vehicle: str, drive: str, topic: str, at: dt.datetime) -> dict:
    ns = int(at.timestamp() * 1e9)
    return {
        "vehicle_id": vehicle,
        "drive_id": drive,
        "source_uri": f"raw/{vehicle}/{drive}/log",
        "topic": topic,
        "log_time": at.replace(tzinfo=None),
        "publish_time": at.replace(tzinfo=None),
        "log_time_ns": ns,
    }


def drive_rows(
    vehicle: str, drive: str, seconds: int = 4, hz: int = 10, start: dt.datetime = T0
) -> dict[str, list]:
    """CAN speed, IMU and one hard-braking event for one drive, deterministic in its arguments."""
    can, imu = [], []
    for i in range(seconds * hz):
        at = start + dt.timedelta(seconds=i / hz)
        speed_kph = 50 + 10 * ((i % 17) / 17) - (i // hz)
        can.append(
            {
                **_common(vehicle, drive, "can", at),
                "t": at.timestamp(),
                "bus": 0,
                "address": 180,
                "message": "SPEED",
                "signal": "SPEED",
                "value": speed_kph,
                "unit": "kph",
            }
        )
        imu.append(
            {
                **_common(vehicle, drive, "imu", at),
                "frame_id": "imu",
                "header_time_ns": int(at.timestamp() * 1e9),
                "angular_velocity": {"x": 0.0, "y": 0.0, "z": 0.01 * (i % 5)},
                "linear_acceleration": {"x": 0.1 * (i % 3), "y": 0.2, "z": 9.81},
            }
        )
    end = start + dt.timedelta(seconds=seconds)
    events = [
        {
            **_common(vehicle, drive, "events", end),
            "event_type": "hard_braking",
            "start_time": (end - dt.timedelta(seconds=1)).replace(tzinfo=None),
            "end_time": end.replace(tzinfo=None),
            "duration_s": 1.0,
            "peak_decel_mps2": 4.5,
            "speed_start_mps": 12.0,
            "speed_end_mps": 8.0,
            "signal": "SPEED",
        }
    ]
    return {"can_signals": can, "imu": imu, "events": events}


def append(spark: SparkSession, database: str, rows: dict[str, list]) -> None:
    for table, values in rows.items():
        if values:
            frame = spark.createDataFrame(values, ETL_TABLES[table].schema)
            frame.writeTo(ident(CATALOG, database, table)).append()
