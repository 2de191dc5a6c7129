"""A local Spark session with an Iceberg file-system catalog, and ETL tables of the documented
schema (spark/drivetrain_spark/tables.py) filled with generated rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[3]
ICEBERG_JAR = REPO / ".drivetrain" / "jars" / "iceberg-spark-runtime-3.5_2.12-1.10.0.jar"
CATALOG = "drivetrain"

COMMON = (
    "vehicle_id string, drive_id string, source_uri string, topic string, "
    "log_time timestamp, publish_time timestamp, log_time_ns bigint"
)
ETL_SCHEMAS = {
    "can_signals": f"{COMMON}, t double, bus int, address bigint, message string, signal string, "
    "value double, unit string",
    "imu": f"{COMMON}, frame_id string, header_time_ns bigint, "
    "angular_velocity struct<x:double,y:double,z:double>, "
    "linear_acceleration struct<x:double,y:double,z:double>",
    "events": f"{COMMON}, event_type string, start_time timestamp, end_time timestamp, duration_s double, "
    "peak_decel_mps2 double, speed_start_mps double, speed_end_mps double, signal string",
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> SparkSession:
    if not ICEBERG_JAR.is_file():
        pytest.fail(f"{ICEBERG_JAR} is missing: run scripts/bootstrap.sh")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tmp_path_factory.mktemp("warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("drivetrain-features-tests")
        .config("spark.jars", str(ICEBERG_JAR))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config(f"spark.sql.catalog.{CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
        .config(f"spark.sql.catalog.{CATALOG}.type", "hadoop")
        .config(f"spark.sql.catalog.{CATALOG}.warehouse", str(warehouse))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def registry() -> dict:
    return json.loads((REPO / "features" / "registry.json").read_text())


def create_etl_tables(spark: SparkSession, database: str) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {CATALOG}.{database}")
    for table, schema in ETL_SCHEMAS.items():
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {CATALOG}.{database}.{table} ({schema}) USING iceberg "
            "PARTITIONED BY (vehicle_id, days(log_time)) TBLPROPERTIES ('format-version'='2')"
        )


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
            spark.createDataFrame(values, ETL_SCHEMAS[table]).writeTo(
                f"{CATALOG}.{database}.{table}"
            ).append()
