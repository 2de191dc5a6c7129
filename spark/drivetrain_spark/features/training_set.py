"""Point-in-time-correct training sets from the feature tables.

For each row of an entity dataframe (join keys and an ``event_timestamp``), each requested view
contributes the features of the newest row of that entity with ``event_timestamp`` at or before
the entity row's, and not older than the view's TTL (0: no limit), as Feast's offline stores
define it; a tie on event time goes to the row created last. Rows without such a feature row
get nulls. Feature tables are read at pinned snapshots: the manifest of a training set records
them, and passing it back as ``pins`` returns the same set however the tables moved on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from drivetrain_spark.features import registry as reg
from drivetrain_spark.features.iceberg import current_snapshot

ROW_ID = "__entity_row"


def resolve_features(
    registry: dict[str, Any], service: str | None, features: list[str] | None
) -> dict[str, list[str]]:
    """`view:feature` references or a feature service, as features per view in request order."""
    selected: dict[str, list[str]] = {}
    if service:
        found = next((s for s in registry["featureServices"] if s["name"] == service), None)
        if found is None:
            raise KeyError(f"no feature service {service}")
        for ref in found["views"]:
            selected.setdefault(ref["view"], []).extend(ref["features"])
        return selected
    for ref in features or []:
        view, _, feature = ref.partition(":")
        known = [f["name"] for f in reg.view(registry, view)["features"]]
        if feature not in known:
            raise KeyError(f"{view} has no feature {feature}")
        selected.setdefault(view, []).append(feature)
    return selected


def historical_features(
    spark: SparkSession,
    registry: dict[str, Any],
    entities: DataFrame,
    selected: dict[str, list[str]],
    table_of: Any,
    pins: dict[str, int] | None = None,
    full_feature_names: bool = False,
) -> tuple[DataFrame, dict[str, int]]:
    """The training set and the snapshot id of each feature table it read."""
    if "event_timestamp" not in entities.columns:
        raise ValueError("the entity dataframe needs an event_timestamp column")
    # Frozen, so the row ids stay the same however often the joins below re-read it.
    result = entities.withColumn(ROW_ID, F.monotonically_increasing_id()).localCheckpoint(eager=True)
    used: dict[str, int] = {}
    for view_name, features in selected.items():
        view = reg.view(registry, view_name)
        keys = [k["name"] for k in view["joinKeys"]]
        missing = [k for k in keys if k not in entities.columns]
        if missing:
            raise ValueError(f"the entity dataframe lacks join key(s) {missing} of {view_name}")
        table = table_of(view_name)
        snapshot = (pins or {}).get(view_name, current_snapshot(spark, table))
        if snapshot is None:
            raise ValueError(f"feature table {table} has no snapshot: materialize first")
        used[view_name] = snapshot
        rows = spark.read.option("snapshot-id", snapshot).table(table)
        result = as_of_join(result, rows, keys, features, view["ttlSeconds"], view_name, full_feature_names)
    return result.drop(ROW_ID), used


def as_of_join(
    entities: DataFrame,
    rows: DataFrame,
    keys: list[str],
    features: list[str],
    ttl_seconds: int,
    view_name: str,
    full_feature_names: bool,
) -> DataFrame:
    """Each entity row with the newest feature row of its entity at or before its time, within TTL."""
    f = rows.select(
        *[F.col(k).alias(f"__k_{k}") for k in keys],
        F.col("event_timestamp").alias("__f_ts"),
        F.col("created").alias("__f_created"),
        *[F.col(name).alias(f"__f_{name}") for name in features],
    )
    e = entities.select(ROW_ID, *keys, F.col("event_timestamp").alias("__e_ts"))
    condition = [e[k] == f[f"__k_{k}"] for k in keys] + [f["__f_ts"] <= e["__e_ts"]]
    if ttl_seconds > 0:
        condition.append(f["__f_ts"] > e["__e_ts"] - F.expr(f"INTERVAL {int(ttl_seconds)} SECONDS"))
    candidates = e.join(f, condition, "inner")
    newest = Window.partitionBy(ROW_ID).orderBy(F.col("__f_ts").desc(), F.col("__f_created").desc())
    best = (
        candidates.withColumn("__rank", F.row_number().over(newest))
        .where(F.col("__rank") == 1)
        .select(
            ROW_ID,
            *[
                F.col(f"__f_{name}").alias(f"{view_name}__{name}" if full_feature_names else name)
                for name in features
            ],
        )
    )
    return entities.join(best, ROW_ID, "left")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m drivetrain_spark.features.training_set")
    p.add_argument("--registry", required=True)
    p.add_argument("--entities", required=True, help="Parquet entity dataframe: join keys + event_timestamp")
    p.add_argument("--out", required=True, help="where the training set is written (Parquet)")
    p.add_argument("--service", default=None)
    p.add_argument("--features", default=None, help="comma-separated view:feature references")
    p.add_argument(
        "--pins", default=None, help="manifest of an earlier training set: read the same snapshots"
    )
    p.add_argument("--full-feature-names", action="store_true")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--catalog-type", choices=("hadoop", "glue"), default="hadoop")
    p.add_argument("--catalog-name", default="drivetrain")
    p.add_argument("--feature-database", default="features")
    p.add_argument("--master", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from drivetrain_spark.session import get_or_create

    spark = spark or get_or_create(args.catalog_type, args.catalog_name, args.warehouse, args.master)
    registry = reg.load(args.registry)
    selected = resolve_features(registry, args.service, args.features.split(",") if args.features else None)
    # Snapshot ids are written as strings (64-bit; JavaScript rounds JSON numbers past 2^53).
    pins = (
        {v: int(s) for v, s in json.loads(Path(args.pins).read_text())["snapshots"].items()}
        if args.pins
        else None
    )
    entities = spark.read.parquet(args.entities)
    frame, used = historical_features(
        spark,
        registry,
        entities,
        selected,
        lambda view: f"{args.catalog_name}.{args.feature_database}.{view}",
        pins,
        args.full_feature_names,
    )
    frame.write.mode("overwrite").parquet(args.out)
    manifest = {"entities": args.entities, "rows": frame.count(), "features": selected}
    manifest["snapshots"] = {view: str(snapshot) for view, snapshot in used.items()}
    Path(f"{args.out.rstrip('/')}.manifest.json").write_text(json.dumps(manifest, indent=2))
    print(json.dumps(manifest), flush=True)
    return manifest


if __name__ == "__main__":
    main()
