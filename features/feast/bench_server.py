"""Feast's own feature server (PyPI) over Feast's Redis online store, holding the benchmark data.

Usage: bench_server.py <registry.json> <data.json> <repo dir> <redis port> <http port> [workers]
data.json: {"<view>": {"entity_id": [...], "event_timestamp": [ISO...], "<feature>": [...]}}.
Loads it with Feast's own write path (write_to_online_store), prints "ready", then serves as
Feast's docs recommend for production (reference/feature-servers/python-feature-server,
"Performance Configuration": `feast serve --workers -1 --registry_ttl_sec 60`): 2 x CPUs + 1
gunicorn/uvicorn workers unless told, the registry refreshed in the background every 60 s
(served from cache in between), no access log. Workers are never recycled (`--max-requests`
guards against leaks over days; in a run of minutes its restarts would only add pauses).
"""

import json
import multiprocessing
import sys
from pathlib import Path

import pandas as pd

from feast_repo import apply, write_config


def main() -> None:
    registry_path, data_path, repo_dir, redis_port, http_port = sys.argv[1:6]
    workers = int(sys.argv[6]) if len(sys.argv) > 6 else 2 * multiprocessing.cpu_count() + 1
    repo = Path(repo_dir)
    write_config(repo, {"type": "redis", "connection_string": f"127.0.0.1:{redis_port}"})
    store = apply(repo, json.loads(Path(registry_path).read_text()), repo)
    for view, columns in json.loads(Path(data_path).read_text()).items():
        frame = pd.DataFrame(columns)
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        store.write_to_online_store(view, frame)
    print("ready", flush=True)
    store.serve(
        host="127.0.0.1",
        port=int(http_port),
        no_access_log=True,
        workers=workers,
        max_requests=0,
        registry_ttl_sec=60,
    )


if __name__ == "__main__":
    main()
