"""Raw object layout: ``raw/<vehicle_id>/<drive_id>/<any name>.<format>``.

Formats by suffix: ``.mcap`` (MCAP, any profile: ROS 1, ROS 2, protobuf, JSON), ``.bag``
(ROS 1 bag v2.0), ``.db3`` (ROS 2 bag in sqlite3; its ``metadata.yaml`` sits beside it and is
not an input of its own), ``.can.parquet`` (raw CAN frames, see ``can.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

FORMATS = {".can.parquet": "can", ".mcap": "mcap", ".bag": "rosbag1", ".db3": "rosbag2_sqlite"}
COMPANIONS = ("metadata.yaml",)


@dataclass(frozen=True)
class RawObject:
    uri: str
    vehicle_id: str
    drive_id: str
    format: str


class LayoutError(ValueError):
    """The key does not follow the raw layout (machine-readable reason: ``bad_key``)."""


def format_of(uri: str) -> str | None:
    name = uri.rsplit("/", 1)[-1].lower()
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def is_companion(uri: str) -> bool:
    return uri.rsplit("/", 1)[-1] in COMPANIONS


def parse(uri: str, vehicle_id: str | None = None, drive_id: str | None = None) -> RawObject:
    """Vehicle and drive come from the key, unless the input names them explicitly."""
    fmt = format_of(uri)
    if fmt is None:
        raise LayoutError(f"unsupported object suffix: {uri.rsplit('/', 1)[-1]}")
    if vehicle_id and drive_id:
        return RawObject(uri, vehicle_id, drive_id, fmt)
    segments = [s for s in urlparse(uri).path.split("/") if s]
    for i in range(len(segments) - 4, -1, -1):
        if segments[i] == "raw":
            return RawObject(uri, segments[i + 1], segments[i + 2], fmt)
    raise LayoutError(f"key is not raw/<vehicle_id>/<drive_id>/<name>: {uri}")
