"""Iceberg tables: creation, schema evolution and the one commit per table per run.

A run replaces exactly its inputs' rows. For each table it reads the current snapshot's
partitions that the run touches (vehicle x day: those its new rows fall in and those the same
inputs filled before), keeps the rows of other objects, adds the new rows, and overwrites
those partitions in one Iceberg commit (``overwrite`` by a partition-aligned filter), validated
against the snapshot it read with serializable isolation. A concurrent run that committed to
the same partitions in between makes the commit fail validation; the write is then retried
on the new snapshot, so neither run's rows are lost or doubled.

The Hadoop catalog commits by renaming a metadata file, which a local file system cannot do
atomically against another process; locally, commits to a table are also serialised by a
lock file. On AWS the Glue Data Catalog's optimistic version check does the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from drivetrain_spark import objects
from drivetrain_spark.tables import PARTITION_SQL

RUN_PROPERTY = "drivetrain.run-id"
TABLE_PROPERTIES = {
    "format-version": "2",
    "write.spark.accept-any-schema": "true",
    "write.parquet.compression-codec": "zstd",
    # Columns whose values never fit a dictionary (point-cloud floats, CAN values) give up on one
    # after 256 KB instead of 2 MB: trying costs a hash per value.
    "write.parquet.dict-size-bytes": str(256 << 10),
    # Full bounds on source_uri let a run's delete scan skip files of other objects.
    "write.metadata.metrics.column.source_uri": "full",
    # A run's rows fall in few partitions (its vehicles x days): each task writes them with a
    # file per partition it holds, instead of shuffling every decoded byte by partition first.
    "write.distribution-mode": "none",
    "write.spark.fanout.enabled": "true",
    # Check the row group's size every few rows, not every 100: rows can be megabytes.
    "write.parquet.row-group-check-min-record-count": "2",
    "write.parquet.row-group-check-max-record-count": "1000",
}
COMMIT_ATTEMPTS = 6


@dataclass(frozen=True)
class Committed:
    rows: int
    snapshot_id: int | None
    checksum: str
    partitions: list[str]

    def manifest(self) -> dict[str, object]:
        """The run manifest's entry. Iceberg snapshot ids are 64-bit and exceed 2^53, so they
        leave as JSON strings: a JSON number would be rounded by JavaScript readers."""
        return {
            "rows": self.rows,
            "snapshotId": None if self.snapshot_id is None else str(self.snapshot_id),
            "checksum": self.checksum,
            "partitions": self.partitions,
        }


def ident(catalog: str, database: str, table: str) -> str:
    return f"{catalog}.{database}.{table}"


def ensure_database(spark: SparkSession, catalog: str, database: str) -> None:
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {catalog}.{database}")


def _ddl(schema: StructType) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)


def ensure_table(spark: SparkSession, name: str, schema: StructType) -> None:
    props = ", ".join(f"'{k}'='{v}'" for k, v in TABLE_PROPERTIES.items())
    try:
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {name} ({_ddl(schema)}) USING iceberg "
            f"PARTITIONED BY ({PARTITION_SQL}) TBLPROPERTIES ({props})"
        )
    except Exception as err:  # a concurrent run created it first
        if "already exists" not in str(err).lower():
            raise


def ensure_schema(spark: SparkSession, name: str, schema: StructType) -> None:
    """Widens the table to hold ``schema``: new columns, new nested fields and promoted types
    (int to long, float to double), by name, as Iceberg's ``unionByNameWith`` does. Files
    written outside Spark cannot evolve the schema on write, so this runs before their tasks."""
    wanted = spark._jvm.org.apache.iceberg.spark.SparkSchemaUtil.convert(
        spark._jsparkSession.parseDataType(schema.json())
    )
    for attempt in range(COMMIT_ATTEMPTS):
        table = iceberg_table(spark, name)
        update = table.updateSchema().unionByNameWith(wanted)
        if update.apply().sameSchema(table.schema()):
            return
        try:
            update.commit()
            return
        except Exception as err:  # a concurrent run changed the schema first
            if not is_conflict(err) or attempt + 1 == COMMIT_ATTEMPTS:
                raise
            time.sleep(0.2 * (attempt + 1))


def iceberg_table(spark: SparkSession, name: str):
    table = spark._jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, name)
    table.refresh()
    return table


def current_snapshot(spark: SparkSession, name: str) -> int | None:
    snapshot = iceberg_table(spark, name).currentSnapshot()
    return None if snapshot is None else int(snapshot.snapshotId())


def run_snapshot(spark: SparkSession, name: str, run_id: str) -> int | None:
    """The snapshot this run committed (found by its run-id property, newest first)."""
    table = iceberg_table(spark, name)
    snapshot = table.currentSnapshot()
    while snapshot is not None:
        if snapshot.summary().get(RUN_PROPERTY) == run_id:
            return int(snapshot.snapshotId())
        parent = snapshot.parentId()
        snapshot = None if parent is None else table.snapshot(parent)
    return None


def _hash_sum(df: DataFrame) -> Column:
    # Order-independent: the sum of every row's xxhash64 over all columns in name order (a null
    # column hashes as absent, so columns added later keep old sums).
    return F.sum(F.xxhash64(*sorted(df.columns)).cast("decimal(38,0)"))


def checksum(df: DataFrame) -> tuple[int, str]:
    """Row count and order-independent checksum of a DataFrame."""
    row = df.agg(F.count(F.lit(1)).alias("n"), _hash_sum(df).alias("s")).first()
    return int(row.n), _digest(row.s)


def _digest(total: object) -> str:
    return f"xxh64sum:{total if total is not None else 0}"


def _observed(df: DataFrame) -> tuple[DataFrame, Observation]:
    """df with its row count and checksum gathered while the commit writes it (no extra pass
    over the rows, which may be megabytes each)."""
    observation = Observation()
    return df.observe(observation, F.count(F.lit(1)).alias("n"), _hash_sum(df).alias("s")), observation


def _partition_keys(df: DataFrame) -> set[tuple[str, dt.date]]:
    rows = df.select("vehicle_id", F.to_date("log_time").alias("day")).distinct().collect()
    return {(r.vehicle_id, r.day) for r in rows}


def _partition_filter(keys: list[tuple[str, dt.date]]) -> Column:
    condition = None
    for vehicle, day in keys:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        clause = (
            (F.col("vehicle_id") == vehicle)
            & (F.col("log_time") >= F.lit(start))
            & (F.col("log_time") < F.lit(start + dt.timedelta(days=1)))
        )
        condition = clause if condition is None else condition | clause
    assert condition is not None
    return condition


@contextlib.contextmanager
def commit_lock(warehouse: str, name: str) -> Iterator[None]:
    root = (
        objects.local_path(warehouse)
        if warehouse.startswith(("file:", "/")) or "://" not in warehouse
        else None
    )
    if root is None:
        yield
        return
    os.makedirs(f"{root}/.locks", exist_ok=True)
    with open(f"{root}/.locks/{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def replace_sources(
    spark: SparkSession,
    name: str,
    new_rows: DataFrame,
    sources: list[str],
    vehicles: list[str],
    run_id: str,
    warehouse: str,
    partition_keys: set[tuple[str, dt.date]] | None = None,
) -> Committed | None:
    """Commits new_rows in place of every row of ``sources`` (objects of ``vehicles``): one
    snapshot, or None when the table has neither new nor old rows of these sources.
    ``partition_keys`` are the (vehicle, day) partitions new_rows fall in, when known."""
    ensure_table(spark, name, new_rows.schema)
    new_keys = _partition_keys(new_rows) if partition_keys is None else partition_keys
    with commit_lock(warehouse, name):
        for attempt in range(COMMIT_ATTEMPTS):
            base = current_snapshot(spark, name)
            keys = set(new_keys)
            existing = None
            if base is not None:
                existing = spark.sql(f"SELECT * FROM {name} VERSION AS OF {base}")
                stale = existing.where(F.col("vehicle_id").isin(vehicles) & F.col("source_uri").isin(sources))
                keys |= _partition_keys(stale)
            if not keys:
                return None
            ordered = sorted(keys)
            final, observation = _observed(new_rows)
            if existing is not None:
                kept = existing.where(_partition_filter(ordered)).where(~F.col("source_uri").isin(sources))
                final = final.unionByName(kept, allowMissingColumns=True)
            writer = (
                final.writeTo(name)
                .option("mergeSchema", "true")
                .option("isolation-level", "serializable")
                .option(f"snapshot-property.{RUN_PROPERTY}", run_id)
            )
            if base is not None:
                writer = writer.option("validate-from-snapshot-id", str(base))
            try:
                writer.overwrite(_partition_filter(ordered))
                stats = observation.get
                break
            except Exception as err:
                if not is_conflict(err) or attempt + 1 == COMMIT_ATTEMPTS:
                    raise
                time.sleep(0.2 * (attempt + 1))
    partitions = [f"vehicle_id={v}/log_time_day={d.isoformat()}" for v, d in ordered]
    rows, digest = int(stats["n"]), _digest(stats["s"])
    return Committed(rows, run_snapshot(spark, name, run_id), digest, partitions)


def is_conflict(err: Exception) -> bool:
    text = str(err)
    return any(
        marker in text
        for marker in ("ValidationException", "CommitFailedException", "Found conflicting files", "conflict")
    )
