"""Feature materialization: the ETL tables become Iceberg feature tables and online deltas.

Each feature table (``<catalog>.<feature database>.<view>``) records, in the summary of every
snapshot it commits, the view version (hash of definition and transform) and the snapshot id
of each input table it was computed from. A run compares those with the registry and the
inputs' current snapshots, per view:

- same version, same input snapshots: skipped, no Spark job runs and nothing is written;
- same version, new input snapshots: incremental. The rows that changed between the recorded
  and the current snapshot of each input are read with Iceberg's incremental read
  (``start-snapshot-id``/``end-snapshot-id``) when every new snapshot is an append, or its
  changelog view when the ETL replaced rows (an overwrite). The entities those rows belong to
  are recomputed from the current inputs and replace their old rows in one commit;
- new version (or no table yet): the view alone is recomputed in full.

Offline pushes (``POST /push`` with ``to: offline``) are objects under ``<output>/push/<view>/``;
a run appends the ones newer than the table's recorded push to the same commit, and keeps
every pushed row through later recomputations.

Every recomputed entity's latest row goes to an online delta (JSON lines under
``<output>/online/<view>/<version>/<sequence>/``), listed with the view's new watermark in
``<output>/runs/<run id>/online-plan.json``; the loader (lambdas/features/load, or the local
runtime) writes them to DynamoDB and the cache in bounded batches.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from drivetrain_spark.features import registry as reg
from drivetrain_spark.features.iceberg import (
    current_snapshot,
    list_files,
    read_changes,
    snapshot_summary,
    table_exists,
    write_text,
)

VERSION_PROPERTY = "drivetrain.view-version"
INPUTS_PROPERTY = "drivetrain.inputs"
RUN_PROPERTY = "drivetrain.run-id"
# Name of the newest offline push object the table holds (push objects sort by arrival).
PUSHES_PROPERTY = "drivetrain.pushes"
# Beyond this many changed entities an incremental run costs about as much as a full one.
MAX_INCREMENTAL_KEYS = 50_000
# Feature tables are partitioned by a hash of the first join key, so an incremental run
# rewrites only the buckets that hold the entities it recomputed.
BUCKETS = 16


@dataclass
class ViewOutcome:
    view: str
    action: str  # skipped | incremental | full | empty
    reason: str
    inputs: dict[str, int | None]
    rows_written: int = 0
    entities_recomputed: int = 0
    delta: str | None = None
    sequence: int | None = None
    seconds: float = 0.0


def outcome_json(outcome: ViewOutcome) -> dict[str, Any]:
    """As reported to the TypeScript side: snapshot ids (64-bit) as strings, not JSON numbers."""
    inputs = {t: None if s is None else str(s) for t, s in outcome.inputs.items()}
    return {**asdict(outcome), "inputs": inputs}


@dataclass
class RunReport:
    run_id: str
    views: list[ViewOutcome] = field(default_factory=list)

    @property
    def skipped(self) -> list[str]:
        return [v.view for v in self.views if v.action == "skipped"]


@dataclass(frozen=True)
class Catalog:
    name: str
    etl_database: str
    feature_database: str

    def etl(self, table: str) -> str:
        return f"{self.name}.{self.etl_database}.{table}"

    def feature(self, view: str) -> str:
        return f"{self.name}.{self.feature_database}.{view}"


def materialize(
    spark: SparkSession,
    registry: dict[str, Any],
    catalog: Catalog,
    output: str,
    run_id: str,
    views: list[str] | None = None,
    on_view: Callable[[ViewOutcome], None] | None = None,
) -> RunReport:
    report = RunReport(run_id)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {catalog.name}.{catalog.feature_database}")
    for view in registry["featureViews"]:
        if views and view["name"] not in views:
            continue
        started = time.monotonic()
        outcome = _materialize_view(spark, view, catalog, output, run_id)
        outcome.seconds = round(time.monotonic() - started, 3)
        report.views.append(outcome)
        if on_view:
            on_view(outcome)
    plan = {
        "loads": [
            {"view": v.view, **_object_of(output, path)}
            for v in report.views
            if v.delta
            for path in list_files(spark, v.delta, "part-")
        ],
        "commits": [
            {"view": v.view, "version": _version(registry, v.view), "sequence": v.sequence}
            for v in report.views
            if v.delta and v.sequence is not None
        ],
    }
    write_text(spark, f"{output.rstrip('/')}/runs/{run_id}/online-plan.json", json.dumps(plan))
    write_text(
        spark,
        f"{output.rstrip('/')}/runs/{run_id}/report.json",
        json.dumps({"run_id": run_id, "views": [outcome_json(v) for v in report.views]}),
    )
    return report


def _version(registry: dict[str, Any], name: str) -> str:
    return next(v["version"] for v in registry["featureViews"] if v["name"] == name)


def _materialize_view(
    spark: SparkSession, view: dict[str, Any], catalog: Catalog, output: str, run_id: str
) -> ViewOutcome:
    name = view["name"]
    target = catalog.feature(name)
    inputs = {table: current_snapshot(spark, catalog.etl(table)) for table in view["sources"]}
    outcome = ViewOutcome(name, "skipped", "", inputs)
    if any(snapshot is None for snapshot in inputs.values()):
        outcome.action, outcome.reason = "empty", "an input table has no snapshot yet"
        return outcome

    summary = snapshot_summary(spark, target) if table_exists(spark, target) else None
    recorded = json.loads(summary[INPUTS_PROPERTY]) if summary and INPUTS_PROPERTY in summary else None
    pushes = list_files(spark, f"{output.rstrip('/')}/push/{name}", "")
    ingested = summary.get(PUSHES_PROPERTY, "") if summary else ""
    new_pushes = [p for p in pushes if _basename(p) > ingested]
    same_version = bool(summary) and summary.get(VERSION_PROPERTY) == view["version"]
    if same_version and recorded == inputs and not new_pushes:
        outcome.reason = "version, input snapshots and offline pushes unchanged"
        return outcome

    properties = {
        VERSION_PROPERTY: view["version"],
        INPUTS_PROPERTY: json.dumps(inputs),
        RUN_PROPERTY: run_id,
        PUSHES_PROPERTY: _basename(pushes[-1]) if pushes else ingested,
    }
    current = {t: _read(spark, catalog.etl(t), s) for t, s in inputs.items()}
    keys = [k["name"] for k in view["joinKeys"]]

    affected = None
    if same_version and recorded:
        template = next(iter(current.values())).select(*keys).limit(0)
        affected = _affected_keys(spark, catalog, recorded, inputs, keys, template)
        if affected is not None and affected.count() > MAX_INCREMENTAL_KEYS:
            affected = None
    if affected is None:
        outcome.action = "full"
        outcome.reason = "new view version" if summary else "first materialization"
        rows = _union(_feature_rows(view, current), _push_rows(spark, view, pushes))
        (
            rows.writeTo(target)
            .options(**_snapshot_options(properties))
            .using("iceberg")
            .tableProperty("format-version", "2")
            .partitionedBy(F.bucket(BUCKETS, keys[0]))
            .createOrReplace()
        )
    else:
        outcome.action = "incremental"
        changed = [t for t in inputs if recorded.get(t) != inputs[t]] + (
            ["offline pushes"] if new_pushes else []
        )
        outcome.reason = (
            f"new snapshots of {', '.join(changed)}" if recorded != inputs else "new offline pushes"
        )
        affected = affected.cache()
        outcome.entities_recomputed = affected.count()
        scoped = {t: df.join(affected, keys, "left_semi") for t, df in current.items()}
        # Recomputed entities keep the rows pushed for them earlier; new pushes add theirs.
        earlier = _push_rows(spark, view, [p for p in pushes if p not in new_pushes])
        rows = _union(
            _feature_rows(view, scoped),
            earlier.join(affected, keys, "left_semi") if earlier is not None else None,
            _push_rows(spark, view, new_pushes),
        ).cache()
        # One atomic commit: each bucket the written rows fall in is rewritten with its other
        # entities' rows as they were, the affected entities' rows recomputed, and new pushes.
        bucket = F.expr(f"{catalog.name}.system.bucket({BUCKETS}, `{keys[0]}`)")
        touched = affected.unionByName(rows.select(*keys)).select(bucket.alias("__bucket")).distinct()
        existing = spark.read.option("snapshot-id", summary["snapshot-id"]).table(target)
        kept = (
            existing.withColumn("__bucket", bucket)
            .join(touched, "__bucket", "left_semi")
            .drop("__bucket")
            .join(affected, keys, "left_anti")
        )
        kept.unionByName(rows).writeTo(target).options(**_snapshot_options(properties)).overwritePartitions()

    committed = snapshot_summary(spark, target)
    outcome.sequence = (
        int(committed["sequence-number"]) if committed and "sequence-number" in committed else None
    )
    outcome.rows_written = rows.count()
    if outcome.action == "full":
        outcome.entities_recomputed = rows.select(*keys).distinct().count()
    if view["online"] and outcome.rows_written > 0:
        outcome.delta = f"{output.rstrip('/')}/online/{name}/{view['version']}/{outcome.sequence}"
        _latest_per_entity(rows, keys).write.mode("overwrite").json(outcome.delta)
    rows.unpersist()
    return outcome


def _read(spark: SparkSession, table: str, snapshot: int) -> DataFrame:
    return spark.read.option("snapshot-id", snapshot).table(table)


def _feature_rows(view: dict[str, Any], inputs: dict[str, DataFrame]) -> DataFrame:
    """The transform's output, checked against the view's schema, with creation time."""
    transform = reg.transform_of(view)
    out = transform(inputs)
    columns = (
        [k["name"] for k in view["joinKeys"]] + ["event_timestamp"] + [f["name"] for f in view["features"]]
    )
    missing = [c for c in columns if c not in out.columns]
    if missing:
        raise ValueError(f"transform {view['transform']['module']} returned no column(s) {missing}")
    casts = [F.col(f["name"]).cast(reg.SPARK_TYPES[f["type"]]).alias(f["name"]) for f in view["features"]]
    return out.select(
        *[F.col(k["name"]) for k in view["joinKeys"]],
        F.col("event_timestamp").cast("timestamp").alias("event_timestamp"),
        F.current_timestamp().alias("created"),
        *casts,
    )


def _affected_keys(
    spark: SparkSession,
    catalog: Catalog,
    recorded: dict[str, int],
    inputs: dict[str, int],
    keys: list[str],
    template: DataFrame,
) -> DataFrame | None:
    """Entities with a row added or removed in any input since the recorded snapshots (none
    when no input changed); None when the changes cannot be told (history rewritten)."""
    changed: DataFrame = template
    for table, snapshot in inputs.items():
        start = recorded.get(table)
        if start == snapshot:
            continue
        if start is None:
            return None
        rows = read_changes(spark, catalog.etl(table), start, snapshot)
        if rows is None:
            return None
        changed = changed.unionByName(rows.select(*keys).distinct())
    return changed.distinct()


def _push_rows(spark: SparkSession, view: dict[str, Any], paths: list[str]) -> DataFrame | None:
    """Rows of offline push objects ({view, version, rows}) of this view version, as feature rows."""
    if not paths:
        return None
    pushed = (
        spark.read.option("multiLine", True)
        .json(paths)
        .where(F.col("version") == view["version"])
        .select(F.explode("rows").alias("row"))
        .select("row.*")
    )
    present = set(pushed.columns)

    def column(name: str, spark_type: str) -> Any:
        return (F.col(name) if name in present else F.lit(None)).cast(spark_type).alias(name)

    return pushed.select(
        *[column(k["name"], reg.SPARK_TYPES[k["type"]]) for k in view["joinKeys"]],
        F.timestamp_micros(F.col("event_timestamp_us").cast("bigint")).alias("event_timestamp"),
        F.timestamp_micros(F.col("created_us").cast("bigint")).alias("created"),
        *[column(f["name"], reg.SPARK_TYPES[f["type"]]) for f in view["features"]],
    )


def _union(*frames: DataFrame | None) -> DataFrame:
    present = [f for f in frames if f is not None]
    result = present[0]
    for frame in present[1:]:
        result = result.unionByName(frame)
    return result


def _basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _latest_per_entity(rows: DataFrame, keys: list[str]) -> DataFrame:
    """The online delta: each entity's newest row, times in microseconds as the loader reads them."""
    newest = F.max_by(F.struct(*[c for c in rows.columns if c not in keys]), F.col("event_timestamp"))
    latest = rows.groupBy(*keys).agg(newest.alias("row")).select(*keys, "row.*")
    floats = {f.name for f in latest.schema.fields if isinstance(f.dataType, (T.FloatType, T.DoubleType))}
    # NaN is no value, as Feast treats it (its write path drops NaN): written as JSON null,
    # never as Spark's quoted "NaN" string, which the loader would store as text.
    return latest.select(
        *keys,
        F.unix_micros("event_timestamp").alias("event_timestamp_us"),
        F.unix_micros("created").alias("created_us"),
        *[
            F.when(~F.isnan(c), F.col(c)).alias(c) if c in floats else F.col(c)
            for c in latest.columns
            if c not in (*keys, "event_timestamp", "created")
        ],
    )


def _snapshot_options(properties: dict[str, str]) -> dict[str, str]:
    return {f"snapshot-property.{k}": v for k, v in properties.items()}


def _object_of(output: str, path: str) -> dict[str, str]:
    """A delta file as the loader addresses it: bucket and key on S3, a key under `output` locally."""
    if path.startswith(("s3://", "s3a://")):
        bucket, _, key = path.split("://", 1)[1].partition("/")
        return {"bucket": bucket, "key": key}
    local = Path(path.removeprefix("file:"))
    return {"bucket": "", "key": str(local.relative_to(Path(output.removeprefix("file:")).resolve()))}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m drivetrain_spark.features.materialize")
    p.add_argument("--registry", required=True, help="path of features/registry.json")
    p.add_argument("--run-id", required=True)
    p.add_argument("--warehouse", required=True)
    p.add_argument(
        "--output", required=True, help="root of online deltas and run plans (a path or s3://bucket)"
    )
    p.add_argument("--catalog-type", choices=("hadoop", "glue"), default="hadoop")
    p.add_argument("--catalog-name", default="drivetrain")
    p.add_argument("--etl-database", default="sensor")
    p.add_argument("--feature-database", default="features")
    p.add_argument("--views", default=None, help="comma-separated view names (default: all)")
    p.add_argument("--master", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> RunReport:
    args = parse_args(argv)
    from drivetrain_spark.session import get_or_create

    spark = spark or get_or_create(args.catalog_type, args.catalog_name, args.warehouse, args.master)
    registry = reg.load(args.registry)
    catalog = Catalog(args.catalog_name, args.etl_database, args.feature_database)
    views = args.views.split(",") if args.views else None
    # One JSON line per view as it finishes: the local runtime shows them as progress.
    return materialize(
        spark,
        registry,
        catalog,
        args.output,
        args.run_id,
        views,
        lambda v: print(json.dumps(outcome_json(v)), flush=True),
    )


if __name__ == "__main__":
    main()
