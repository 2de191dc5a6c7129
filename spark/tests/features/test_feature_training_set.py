"""Point-in-time training sets against a brute-force reference on generated data, and pinning."""

import datetime as dt
import random

from drivetrain_spark.features.iceberg import current_snapshot
from drivetrain_spark.features.training_set import historical_features

from .conftest import CATALOG

DATABASE = "features_pit"
T0 = dt.datetime(2024, 1, 1)
VIEWS = {"short_lived": 30, "forever": 0}  # TTL in seconds
REGISTRY = {
    "featureViews": [
        {
            "name": name,
            "joinKeys": [{"name": "drive_id", "type": "String"}],
            "ttlSeconds": ttl,
            "features": [{"name": "a", "type": "Float64"}, {"name": "b", "type": "Int64"}],
        }
        for name, ttl in VIEWS.items()
    ],
    "featureServices": [],
}
FEATURE_SCHEMA = "drive_id string, event_timestamp timestamp, created timestamp, a double, b bigint"


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def generated(rng: random.Random, n: int) -> list[dict]:
    # Few keys and a narrow time range: many candidates per entity row, and event-time ties.
    return [
        {
            "drive_id": f"k{rng.randrange(5)}",
            "event_timestamp": at(rng.randrange(200)),
            "created": at(rng.randrange(1_000)),
            "a": rng.random(),
            "b": rng.randrange(1_000_000),
        }
        for _ in range(n)
    ]


def brute_force(entities: list[dict], rows: dict[str, list[dict]]) -> list[tuple]:
    expected = []
    for e in entities:
        out = [e["drive_id"], e["event_timestamp"]]
        for view, ttl in VIEWS.items():
            candidates = [
                r
                for r in rows[view]
                if r["drive_id"] == e["drive_id"]
                and r["event_timestamp"] <= e["event_timestamp"]
                and (ttl == 0 or r["event_timestamp"] > e["event_timestamp"] - dt.timedelta(seconds=ttl))
            ]
            best = max(candidates, key=lambda r: (r["event_timestamp"], r["created"]), default=None)
            out += [best["a"], best["b"]] if best else [None, None]
        expected.append(tuple(out))
    return sorted(expected, key=repr)


def test_as_of_join_matches_brute_force_and_pins_reproduce_the_set(spark):
    rng = random.Random(20261201)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {CATALOG}.{DATABASE}")
    rows = {}
    for view in VIEWS:
        rows[view] = generated(rng, 400)
        # Unique (key, event time, created) so the reference's choice is never ambiguous.
        rows[view] = list(
            {(r["drive_id"], r["event_timestamp"], r["created"]): r for r in rows[view]}.values()
        )
        spark.createDataFrame(rows[view], FEATURE_SCHEMA).writeTo(
            f"{CATALOG}.{DATABASE}.{view}"
        ).createOrReplace()
    entities = [
        {"drive_id": f"k{rng.randrange(6)}", "event_timestamp": at(rng.randrange(-20, 260))}
        for _ in range(300)
    ]
    entity_df = spark.createDataFrame(entities, "drive_id string, event_timestamp timestamp")
    selected = {view: ["a", "b"] for view in VIEWS}

    def table_of(view):
        return f"{CATALOG}.{DATABASE}.{view}"

    frame, used = historical_features(spark, REGISTRY, entity_df, selected, table_of, full_feature_names=True)
    columns = ["drive_id", "event_timestamp", "short_lived__a", "short_lived__b", "forever__a", "forever__b"]
    actual = sorted((tuple(r) for r in frame.select(*columns).collect()), key=repr)
    assert actual == brute_force(entities, rows)
    assert frame.count() == len(entities)
    assert used == {view: current_snapshot(spark, table_of(view)) for view in VIEWS}

    # Newer feature rows arrive; the pinned call still returns the first set, an unpinned one does not.
    newer = [{**r, "created": at(5_000), "a": -1.0} for r in rows["forever"]]
    spark.createDataFrame(newer, FEATURE_SCHEMA).writeTo(table_of("forever")).append()
    pinned, _ = historical_features(
        spark, REGISTRY, entity_df, selected, table_of, pins=used, full_feature_names=True
    )
    latest, _ = historical_features(spark, REGISTRY, entity_df, selected, table_of, full_feature_names=True)
    assert sorted((tuple(r) for r in pinned.select(*columns).collect()), key=repr) == actual
    assert sorted((tuple(r) for r in latest.select(*columns).collect()), key=repr) != actual
