"""Feast's own client against a Drivetrain feature server, unchanged: the compatibility check.

Usage: compat_client.py <registry.json> <server url> <scratch dir> <requests.json>
Each request is {"features": [...]} or {"feature_service": name}, with "entity_rows" and
optionally "full_feature_names". Prints, per request, Feast's `to_dict()` of the response or
the class and message of the exception Feast's client raised.
"""

import json
import sys
from datetime import timedelta
from pathlib import Path

from feast import FeatureView, Field
from feast import types as feast_types
from feast_repo import apply, write_config


def main() -> None:
    registry_path, url, scratch, requests_path = sys.argv[1:5]
    repo = Path(scratch)
    write_config(repo, {"type": "remote", "path": url})
    registry = json.loads(Path(registry_path).read_text())
    store = apply(repo, registry, repo)
    # A view only the client knows: the server must refuse it the way Feast's server does.
    drive = store.get_entity("drive")
    ghost = FeatureView(
        name="ghost_view",
        entities=[drive],
        ttl=timedelta(0),
        schema=[Field(name="ghost_feature", dtype=feast_types.Float64)],
        source=store.get_feature_view("drive_motion").batch_source,
    )
    store.apply([ghost])

    results = []
    for request in json.loads(Path(requests_path).read_text()):
        features = (
            store.get_feature_service(request["feature_service"])
            if "feature_service" in request
            else request["features"]
        )
        try:
            response = store.get_online_features(
                features=features,
                entity_rows=request["entity_rows"],
                full_feature_names=request.get("full_feature_names", False),
            )
            results.append({"ok": response.to_dict()})
        except Exception as error:
            results.append({"error": type(error).__name__, "message": str(error)})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
