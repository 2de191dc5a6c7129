"""Object storage by URI: ``s3://bucket/key``, ``file:///path`` or a plain path.

pyarrow's file systems give ranged reads on both, so an executor reads one chunk of a large
log without fetching the whole object.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyarrow import fs

_READ_BLOCK = 8 << 20


def resolve(uri: str) -> tuple[fs.FileSystem, str]:
    parsed = urlparse(uri)
    if parsed.scheme in ("s3", "s3a"):
        return fs.S3FileSystem(), f"{parsed.netloc}{parsed.path}"
    if parsed.scheme == "file":
        return fs.LocalFileSystem(), parsed.path
    if parsed.scheme == "":
        return fs.LocalFileSystem(), str(Path(uri).resolve())
    raise ValueError(f"unsupported URI scheme {parsed.scheme!r} in {uri}")


def canonical(uri: str) -> str:
    """One spelling per object: plain paths become ``file://`` URIs (rows record this)."""
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return Path(uri).resolve().as_uri()
    if parsed.scheme == "s3a":
        return "s3://" + uri[len("s3a://") :]
    return uri


def local_path(uri: str) -> str | None:
    """The local path of a ``file://`` URI or plain path; None for remote objects."""
    filesystem, path = resolve(uri)
    return path if isinstance(filesystem, fs.LocalFileSystem) else None


def size(uri: str) -> int:
    filesystem, path = resolve(uri)
    info = filesystem.get_file_info(path)
    if info.type != fs.FileType.File:
        raise FileNotFoundError(uri)
    return info.size


def read_range(uri: str, offset: int, length: int) -> bytes:
    filesystem, path = resolve(uri)
    with filesystem.open_input_file(path) as f:
        return f.read_at(length, offset)


def read_bytes(uri: str) -> bytes:
    filesystem, path = resolve(uri)
    with filesystem.open_input_stream(path) as f:
        return f.read()


def sha256(uri: str) -> str:
    digest = hashlib.sha256()
    filesystem, path = resolve(uri)
    with filesystem.open_input_stream(path) as f:
        while block := f.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def write_bytes(uri: str, data: bytes) -> None:
    filesystem, path = resolve(uri)
    parent = path.rsplit("/", 1)[0]
    filesystem.create_dir(parent, recursive=True)
    with filesystem.open_output_stream(path) as f:
        f.write(data)


def write_json(uri: str, value: Any) -> None:
    write_bytes(uri, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def copy(src: str, dst: str) -> None:
    src_fs, src_path = resolve(src)
    dst_fs, dst_path = resolve(dst)
    dst_fs.create_dir(dst_path.rsplit("/", 1)[0], recursive=True)
    fs.copy_files(src_path, dst_path, source_filesystem=src_fs, destination_filesystem=dst_fs)


def join(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def delete_dir(uri: str) -> None:
    filesystem, path = resolve(uri)
    if filesystem.get_file_info(path).type == fs.FileType.Directory:
        filesystem.delete_dir(path)
