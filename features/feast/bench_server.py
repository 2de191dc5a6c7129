"""Feast's own feature server (PyPI) over Feast's Redis online store, holding the benchmark data.

Usage: bench_server.py <registry.json> <data.json> <repo dir> <redis port> <http port>
data.json: {"<view>": {"entity_id": [...], "event_timestamp": [ISO...], "<feature>": [...]}}.
Loads it with Feast's own write path (write_to_online_store), prints "ready", then serves
with `feast serve` defaults except that workers are never recycled (no restart pauses).
"""

import json
import sys
from pathlib import Path

import pandas as pd

from feast_repo import apply, write_config


def main() -> None:
    registry_path, data_path, repo_dir, redis_port, http_port = sys.argv[1:6]
    repo = Path(repo_dir)
    write_config(repo, {"type": "redis", "connection_string": f"127.0.0.1:{redis_port}"})
    store = apply(repo, json.loads(Path(registry_path).read_text()), repo)
    for view, columns in json.loads(Path(data_path).read_text()).items():
        frame = pd.DataFrame(columns)
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        store.write_to_online_store(view, frame)
    print("ready", flush=True)
    store.serve(host="127.0.0.1", port=int(http_port), no_access_log=True, workers=1, max_requests=0)


if __name__ == "__main__":
    main()
