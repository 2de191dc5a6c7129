"""Feast objects for Drivetrain's registry artifact (features/registry.json).

Builds a Feast feature repository whose entities, feature views and feature services are
the ones Drivetrain serves, with either Feast's `remote` online store pointed at a Drivetrain
feature server (the compatibility test) or Feast's own Redis online store (the benchmark).
Runs in .venv-feast, which holds Feast from PyPI and nothing of Drivetrain's.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast import types as feast_types

JOIN_KEY_TYPES = {"String": ValueType.STRING, "Int64": ValueType.INT64}
VALUE_TYPES = {
    "Int32": feast_types.Int32,
    "Int64": feast_types.Int64,
    "Float32": feast_types.Float32,
    "Float64": feast_types.Float64,
    "String": feast_types.String,
    "Bool": feast_types.Bool,
    "UnixTimestamp": feast_types.UnixTimestamp,
}


def write_config(repo: Path, online_store: dict) -> None:
    """feature_store.yaml: a local file registry and the given online store (JSON is YAML)."""
    repo.mkdir(parents=True, exist_ok=True)
    config = {
        "project": "drivetrain",
        "provider": "local",
        "registry": str(repo / "registry.db"),
        "online_store": online_store,
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }
    (repo / "feature_store.yaml").write_text(json.dumps(config, indent=2))


def feast_objects(registry: dict, data_dir: Path) -> list:
    """Entities, views (one Parquet file source each under data_dir) and services of the registry."""
    entities = {
        e["name"]: Entity(
            name=e["name"],
            join_keys=[k["name"] for k in e["joinKeys"]],
            value_type=JOIN_KEY_TYPES[e["joinKeys"][0]["type"]],
            description=e.get("description", ""),
        )
        for e in registry["entities"]
    }
    views = {}
    for view in registry["featureViews"]:
        if not view["online"]:
            continue
        source = FileSource(
            name=f"{view['name']}_source",
            path=str(data_dir / f"{view['name']}.parquet"),
            timestamp_field="event_timestamp",
        )
        views[view["name"]] = FeatureView(
            name=view["name"],
            entities=[entities[view["entity"]]],
            ttl=timedelta(seconds=view["ttlSeconds"]),
            schema=[Field(name=f["name"], dtype=VALUE_TYPES[f["type"]]) for f in view["features"]],
            source=source,
            online=True,
        )
    services = [
        FeatureService(
            name=service["name"],
            features=[views[ref["view"]][ref["features"]] for ref in service["views"]],
        )
        for service in registry["featureServices"]
    ]
    return [*entities.values(), *views.values(), *services]


def apply(repo: Path, registry: dict, data_dir: Path, extra: list | None = None) -> FeatureStore:
    store = FeatureStore(repo_path=str(repo))
    store.apply([*feast_objects(registry, data_dir), *(extra or [])])
    return store
