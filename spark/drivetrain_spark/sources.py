"""Log containers: plan a file into work units, then read one unit's raw messages.

Planning reads only a file's index (MCAP summary and chunk indexes, a ROS 1 bag's connection
and chunk-info records, a ROS 2 sqlite bag's topics), so the driver never reads a whole log.
A unit is a byte span of whole chunks (or an id range of sqlite rows); executors read each
span with one ranged read and decode it. Units are sized so that one large log spreads over
many tasks and no task holds more than a few chunks in memory.

Problems found while planning raise ``Rejected`` with a machine-readable reason; the job
quarantines the object and carries on with the others.
"""

from __future__ import annotations

import bz2
import io
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from drivetrain_spark import objects
from drivetrain_spark.messages import SchemaRef

# Target compressed bytes per unit: big enough to amortise a ranged read, small enough that
# a 2-core executor keeps memory flat (a unit is decompressed one chunk at a time).
UNIT_BYTES = 32 << 20
SQLITE_ROWS_PER_UNIT = 20_000


class Rejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Channel:
    id: int
    topic: str
    schema: SchemaRef


@dataclass(frozen=True)
class Unit:
    uri: str
    format: str
    index: int
    offset: int
    length: int


@dataclass
class FilePlan:
    uri: str
    format: str
    size: int
    channels: dict[int, Channel] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)


@dataclass(frozen=True)
class RawMessage:
    channel_id: int
    log_time: int
    publish_time: int
    data: bytes


def plan(uri: str, fmt: str) -> FilePlan:
    size = objects.size(uri)
    if size == 0:
        raise Rejected("empty", "the object has no bytes")
    planner = {"mcap": _plan_mcap, "rosbag1": _plan_rosbag1, "rosbag2_sqlite": _plan_sqlite}[fmt]
    return planner(uri, size)


def read(unit: Unit, channels: dict[int, Channel]) -> Iterator[RawMessage]:
    reader = {"mcap": _read_mcap, "rosbag1": _read_rosbag1, "rosbag2_sqlite": _read_sqlite}[unit.format]
    return reader(unit, channels)


def _spans(uri: str, fmt: str, chunks: list[tuple[int, int]], end: int) -> list[Unit]:
    """Groups consecutive chunks (start offsets, sorted) into units of about UNIT_BYTES."""
    units: list[Unit] = []
    starts = [start for start, _ in chunks]
    group_start = None
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else end
        if group_start is None:
            group_start = start
        if stop - group_start >= UNIT_BYTES or i + 1 == len(starts):
            units.append(Unit(uri, fmt, len(units), group_start, stop - group_start))
            group_start = None
    return units


# ----------------------------------------------------------------------------- MCAP


def _plan_mcap(uri: str, size: int) -> FilePlan:
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    filesystem, path = objects.resolve(uri)
    with filesystem.open_input_file(path) as f:
        head = f.read_at(min(size, 8), 0)
        if head != b"\x89MCAP0\r\n":
            raise Rejected("garbage", "not an MCAP file (bad magic)")
        f.seek(0)
        try:
            summary = make_reader(f).get_summary()
        except (McapError, EOFError, ValueError, struct.error) as err:
            raise Rejected("truncated", f"no valid footer or summary: {err}") from err
    if summary is None:
        raise Rejected("truncated", "the MCAP has no summary section (cut off, or written without one)")
    result = FilePlan(uri, "mcap", size)
    for cid, ch in summary.channels.items():
        schema = summary.schemas.get(ch.schema_id)
        if ch.schema_id != 0 and schema is None:
            detail = f"channel {ch.topic} names schema {ch.schema_id}, which the file does not hold"
            raise Rejected("unknown_schema", detail)
        ref = SchemaRef(
            schema.name if schema else "",
            schema.encoding if schema else "",
            bytes(schema.data) if schema else b"",
            ch.message_encoding,
        )
        result.channels[cid] = Channel(cid, ch.topic, ref)
    chunks = sorted(
        (c.chunk_start_offset, c.chunk_start_offset + c.chunk_length + c.message_index_length)
        for c in summary.chunk_indexes
    )
    if chunks:
        end = chunks[-1][1]
        result.units = _spans(uri, "mcap", chunks, end)
    elif summary.statistics is None or summary.statistics.message_count:
        result.units = [Unit(uri, "mcap", 0, 0, size)]  # unchunked: one sequential read
    return result


def _read_mcap(unit: Unit, channels: dict[int, Channel]) -> Iterator[RawMessage]:
    from mcap.data_stream import ReadDataStream
    from mcap.records import Chunk, Message
    from mcap.stream_reader import StreamReader, breakup_chunk

    data = objects.read_range(unit.uri, unit.offset, unit.length)
    if len(data) < unit.length:
        raise Rejected("truncated", f"chunk span at {unit.offset} is cut off")
    if unit.offset == 0:  # an unchunked file, read front to back
        for record in StreamReader(io.BytesIO(data), validate_crcs=True).records:
            if isinstance(record, Message):
                yield RawMessage(record.channel_id, record.log_time, record.publish_time, record.data)
        return
    stream = ReadDataStream(io.BytesIO(data))
    while stream.count < len(data):
        opcode = stream.read1()
        length = stream.read8()
        if opcode != 0x06:  # message indexes between chunks
            stream.read(length)
            continue
        chunk = Chunk.read(stream)
        try:
            records = breakup_chunk(chunk, validate_crc=True)
        except Exception as err:
            raise Rejected(_chunk_reason(err), f"chunk at {unit.offset}: {err}") from err
        for record in records:
            if isinstance(record, Message):
                yield RawMessage(record.channel_id, record.log_time, record.publish_time, record.data)


def _chunk_reason(err: Exception) -> str:
    text = str(err).lower()
    if "crc" in text:
        return "bad_crc"
    if "compression" in text:
        return "unknown_encoding"
    return "corrupt_chunk"


# ----------------------------------------------------------------------------- ROS 1 bag v2.0

_BAG_MAGIC = b"#ROSBAG V2.0\n"
_OP_MSG, _OP_BAG_HEADER, _OP_INDEX, _OP_CHUNK, _OP_CHUNK_INFO, _OP_CONNECTION = 2, 3, 4, 5, 6, 7


def _bag_header(buf: bytes, pos: int) -> tuple[dict[str, bytes], int]:
    """Parses the header of the record at pos; returns its fields and the data's offset."""
    (length,) = struct.unpack_from("<I", buf, pos)
    end = pos + 4 + length
    if end > len(buf):
        raise Rejected("truncated", f"record header at {pos} is cut off")
    return _bag_fields(buf, pos + 4, end), end


def _bag_fields(buf: bytes, pos: int, end: int) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    while pos < end:
        (flen,) = struct.unpack_from("<I", buf, pos)
        name, _, value = buf[pos + 4 : pos + 4 + flen].partition(b"=")
        fields[name.decode()] = value
        pos += 4 + flen
    return fields


def _bag_record(buf: bytes, pos: int) -> tuple[dict[str, bytes], bytes, int]:
    fields, data_at = _bag_header(buf, pos)
    (dlen,) = struct.unpack_from("<I", buf, data_at)
    start = data_at + 4
    if start + dlen > len(buf):
        raise Rejected("truncated", f"record data at {pos} is cut off")
    return fields, buf[start : start + dlen], start + dlen


def _u32(v: bytes) -> int:
    return struct.unpack("<I", v)[0]


def _time_ns(v: bytes) -> int:
    secs, nsecs = struct.unpack("<II", v)
    return secs * 1_000_000_000 + nsecs


def _plan_rosbag1(uri: str, size: int) -> FilePlan:
    head = objects.read_range(uri, 0, min(size, 4096 + len(_BAG_MAGIC)))
    if not head.startswith(_BAG_MAGIC):
        raise Rejected("garbage", "not a ROS 1 bag v2.0 (bad magic)")
    try:
        fields, _ = _bag_header(head, len(_BAG_MAGIC))
        if fields.get("op") != bytes([_OP_BAG_HEADER]):
            raise Rejected("garbage", "first record is not a bag header")
        index_pos = struct.unpack("<Q", fields["index_pos"])[0]
        conn_count, chunk_count = _u32(fields["conn_count"]), _u32(fields["chunk_count"])
    except (struct.error, KeyError) as err:
        raise Rejected("garbage", f"unreadable bag header: {err}") from err
    if index_pos == 0 or index_pos >= size:
        raise Rejected("truncated", "the bag has no index (cut off while recording, or unindexed)")
    index = objects.read_range(uri, index_pos, size - index_pos)
    result = FilePlan(uri, "rosbag1", size)
    chunks: list[tuple[int, int]] = []
    pos = 0
    try:
        for _ in range(conn_count):
            header, data, pos = _bag_record(index, pos)
            conn = _u32(header["conn"])
            meta = _bag_fields(data, 0, len(data))
            ref = SchemaRef(meta["type"].decode(), "ros1msg", meta.get("message_definition", b""), "ros1")
            result.channels[conn] = Channel(conn, header["topic"].decode(), ref)
        for _ in range(chunk_count):
            header, _, pos = _bag_record(index, pos)
            chunk_pos = struct.unpack("<Q", header["chunk_pos"])[0]
            chunks.append((chunk_pos, chunk_pos))
    except (struct.error, KeyError) as err:
        raise Rejected("truncated", f"bag index is damaged: {err}") from err
    chunks.sort()
    result.units = _spans(uri, "rosbag1", chunks, index_pos) if chunks else []
    return result


def _decompress_bag_chunk(compression: bytes, data: bytes, size: int) -> bytes:
    if compression == b"none":
        return data
    if compression == b"bz2":
        return bz2.decompress(data)
    if compression == b"lz4":
        import lz4.frame

        return lz4.frame.decompress(data)
    raise Rejected("unknown_encoding", f"bag chunk compression {compression.decode(errors='replace')}")


def _read_rosbag1(unit: Unit, channels: dict[int, Channel]) -> Iterator[RawMessage]:
    buf = objects.read_range(unit.uri, unit.offset, unit.length)
    pos = 0
    while pos < len(buf):
        header, data, pos = _bag_record(buf, pos)
        if header.get("op") != bytes([_OP_CHUNK]):
            continue  # index data records follow each chunk
        try:
            inner = _decompress_bag_chunk(header["compression"], data, _u32(header["size"]))
        except Rejected:
            raise
        except Exception as err:
            raise Rejected("corrupt_chunk", f"bag chunk at {unit.offset + pos}: {err}") from err
        p = 0
        while p < len(inner):
            rec, payload, p = _bag_record(inner, p)
            if rec.get("op") == bytes([_OP_MSG]):
                t = _time_ns(rec["time"])
                yield RawMessage(_u32(rec["conn"]), t, t, payload)


# ----------------------------------------------------------------------------- ROS 2 sqlite3


def _sqlite_path(uri: str) -> tuple[str, tempfile.TemporaryDirectory | None]:
    path = objects.local_path(uri)
    if path is not None:
        return path, None
    tmp = tempfile.TemporaryDirectory()
    local = f"{tmp.name}/bag.db3"
    with open(local, "wb") as f:
        f.write(objects.read_bytes(uri))
    return local, tmp


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def _plan_sqlite(uri: str, size: int) -> FilePlan:
    head = objects.read_range(uri, 0, 16)
    if head != b"SQLite format 3\x00":
        raise Rejected("garbage", "not a sqlite3 database")
    path, tmp = _sqlite_path(uri)
    try:
        db = _connect(path)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"topics", "messages"} <= tables:
            raise Rejected("garbage", "sqlite file is not a rosbag2 database")
        definitions: dict[str, tuple[str, str]] = {}
        if "message_definitions" in tables:
            for name, encoding, text in db.execute(
                "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
            ):
                definitions[name] = (encoding, text)
        result = FilePlan(uri, "rosbag2_sqlite", size)
        for tid, name, typ, fmt in db.execute("SELECT id, name, type, serialization_format FROM topics"):
            encoding, text = definitions.get(typ) or _builtin_definition(typ)
            result.channels[tid] = Channel(tid, name, SchemaRef(typ, encoding, text.encode(), fmt))
        lo, hi = db.execute("SELECT min(id), max(id) FROM messages").fetchone()
        db.close()
    except sqlite3.DatabaseError as err:
        raise Rejected("garbage", f"unreadable sqlite database: {err}") from err
    finally:
        if tmp is not None:
            tmp.cleanup()
    # A remote database is fetched whole by each task that reads it: one unit, not many.
    step = SQLITE_ROWS_PER_UNIT if tmp is None else (hi or 0) - (lo or 0) + 1
    if lo is not None:
        for i, start in enumerate(range(lo, hi + 1, step)):
            result.units.append(Unit(uri, "rosbag2_sqlite", i, start, step))
    return result


def _builtin_definition(typename: str) -> tuple[str, str]:
    """Older rosbag2 databases carry no definitions: use the standard ROS 2 (Humble) types."""
    from rosbags.typesys import Stores, get_typestore

    try:
        text, _ = get_typestore(Stores.ROS2_HUMBLE).generate_msgdef(typename, ros_version=2)
    except Exception:
        return ("ros2msg", "")  # an unknown type: the job quarantines it as unknown_schema
    return ("ros2msg", text)


def _read_sqlite(unit: Unit, channels: dict[int, Channel]) -> Iterator[RawMessage]:
    path, tmp = _sqlite_path(unit.uri)
    try:
        db = _connect(path)
        rows = db.execute(
            "SELECT topic_id, timestamp, data FROM messages WHERE id >= ? AND id < ? ORDER BY id",
            (unit.offset, unit.offset + unit.length),
        )
        for topic_id, timestamp, data in rows:
            yield RawMessage(topic_id, timestamp, timestamp, data)
        db.close()
    except sqlite3.DatabaseError as err:
        raise Rejected("garbage", f"unreadable sqlite rows: {err}") from err
    finally:
        if tmp is not None:
            tmp.cleanup()
