"""The registry artifact (features/registry.json, built from the TypeScript definitions): what
the Spark jobs know of feature views, and how a view's transform module is found."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

TRANSFORMS_PACKAGE = "drivetrain_spark.features.transforms"

# Feast value types (features/definitions/schema.ts) as Spark SQL types.
SPARK_TYPES = {
    "Int32": "int",
    "Int64": "bigint",
    "Float32": "float",
    "Float64": "double",
    "String": "string",
    "Bool": "boolean",
    "UnixTimestamp": "bigint",
}


def load(path: str | Path) -> dict[str, Any]:
    registry = json.loads(Path(path).read_text())
    if registry.get("format") != 1:
        raise ValueError(f"{path}: unsupported registry format {registry.get('format')!r}")
    return registry


def view(registry: dict[str, Any], name: str) -> dict[str, Any]:
    for candidate in registry["featureViews"]:
        if candidate["name"] == name:
            return candidate
    raise KeyError(f"no feature view {name} in the registry")


def transform_of(view: dict[str, Any]) -> Callable[[dict[str, DataFrame]], DataFrame]:
    module = importlib.import_module(f"{TRANSFORMS_PACKAGE}.{view['transform']['module']}")
    return module.transform
