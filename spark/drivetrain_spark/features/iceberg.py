"""What feature materialization asks of Iceberg: snapshots, their summaries, and the rows that
changed between two snapshots (incremental read for appends, the changelog for overwrites)."""

from __future__ import annotations

import uuid
from typing import Any

from pyspark.sql import DataFrame, SparkSession


def _missing(error: Exception) -> bool:
    text = str(error)
    return any(m in text for m in ("NoSuchTable", "TABLE_OR_VIEW_NOT_FOUND", "cannot be found", "not found"))


def _table(spark: SparkSession, name: str) -> Any:
    table = spark._jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, name)
    table.refresh()
    return table


def table_exists(spark: SparkSession, name: str) -> bool:
    try:
        _table(spark, name)
        return True
    except Exception as error:  # py4j wraps the JVM's NoSuchTableException
        if _missing(error):
            return False
        raise


def current_snapshot(spark: SparkSession, name: str) -> int | None:
    try:
        snapshot = _table(spark, name).currentSnapshot()
    except Exception as error:
        if _missing(error):
            return None
        raise
    return None if snapshot is None else int(snapshot.snapshotId())


def snapshot_summary(spark: SparkSession, name: str) -> dict[str, str] | None:
    """The current snapshot's summary, plus its sequence number as ``sequence-number``."""
    snapshot = _table(spark, name).currentSnapshot()
    if snapshot is None:
        return None
    summary = {str(k): str(v) for k, v in dict(snapshot.summary()).items()}
    summary["sequence-number"] = str(snapshot.sequenceNumber())
    summary["snapshot-id"] = str(snapshot.snapshotId())
    return summary


def operations_between(spark: SparkSession, name: str, start: int, end: int) -> list[str] | None:
    """Operations of the snapshots after `start` up to `end`, or None if `start` is no ancestor of `end`."""
    table = _table(spark, name)
    operations: list[str] = []
    snapshot = table.snapshot(end)
    while snapshot is not None and int(snapshot.snapshotId()) != start:
        operations.append(str(snapshot.operation()))
        parent = snapshot.parentId()
        snapshot = None if parent is None else table.snapshot(parent)
    return operations if snapshot is not None else None


def read_changes(spark: SparkSession, name: str, start: int, end: int) -> DataFrame | None:
    """Rows added or removed after snapshot `start` up to `end`; None when they cannot be told apart."""
    operations = operations_between(spark, name, start, end)
    if operations is None:
        return None
    if all(op == "append" for op in operations):
        return (
            spark.read.format("iceberg")
            .option("start-snapshot-id", str(start))
            .option("end-snapshot-id", str(end))
            .load(name)
        )
    catalog, _, identifier = name.partition(".")
    view = f"changes_{uuid.uuid4().hex[:12]}"
    spark.sql(
        f"CALL {catalog}.system.create_changelog_view(table => '{identifier}', "
        f"options => map('start-snapshot-id', '{start}', 'end-snapshot-id', '{end}'), "
        f"changelog_view => '{view}')"
    )
    return spark.table(view)


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    """Writes a small object through Hadoop's file system: a local path or s3:// alike."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def list_files(spark: SparkSession, uri: str, prefix: str) -> list[str]:
    """Files directly under `uri` whose name starts with `prefix`, sorted (a path or s3:// alike)."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    names = [str(status.getPath().toString()) for status in fs.listStatus(path)]
    return sorted(n for n in names if n.rsplit("/", 1)[-1].startswith(prefix))
