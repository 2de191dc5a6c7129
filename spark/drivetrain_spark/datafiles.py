"""Direct writes: tasks write a table's Parquet data files themselves, the driver commits them.

Spark's row-by-row path (Arrow batches turned into rows, then encoded value by value by
Iceberg's Parquet writer) cost most of the job's CPU (three quarters for CAN, three fifths for
point-cloud logs). Here a task (CAN's in ``can.py``, the logs' in ``decode.py``; both through
``write_unit``) writes its decoded Arrow tables with pyarrow, under the table's own schema:
every Parquet column carries its Iceberg field id (``PARQUET:field_id``), so Iceberg reads the
files exactly as it reads its own, schema evolution included. A task returns only each file's path, partition
(vehicle, day), record count, size and checksum. The driver reads each footer's column
metrics (``ParquetUtil.fileMetrics``, what Iceberg's own writers record, so pruning on
``source_uri`` and ``log_time`` works) and makes one ``OverwriteFiles`` commit per table:
remove every row of the run's inputs, add the new files, validated from the snapshot it read.

Removing an input's rows: a file whose ``source_uri`` bounds are one of the inputs is deleted
whole (every file written here holds one object); a file mixing inputs with other objects
(the Spark path wrote those) is rewritten without the inputs' rows, in the same commit.

The checksum is computed from the Arrow data (``rowhash64``): every row hashes its columns in
name order (a null column counts as absent, so columns added later keep old sums), and the
rows' hashes are summed, so it does not depend on row or file order. ``table_checksum`` gives
the same figure for any DataFrame (a table read back), through the same Arrow code. Bulk data
is hashed as bytes (a point cloud's channel as one SHA-1 of its values, a blob as one of its
bytes): mixing it value by value with numpy cost as much as writing it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

from drivetrain_spark import objects

DAY_US = 86_400_000_000
PARTITION_FIELDS = ("vehicle_id", "log_time_day")  # identity(vehicle_id), days(log_time)
ROW_GROUP_ROWS = 1 << 20
CHECKSUM_PREFIX = "rowhash64:"

# ----------------------------------------------------------------------------- Arrow schema

_PRIMITIVES = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "string": pa.string(),
    "binary": pa.binary(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
}


def _field_id(value: int) -> dict[bytes, bytes]:
    return {b"PARQUET:field_id": str(value).encode()}


def _arrow_type(spec: Any) -> pa.DataType:
    if isinstance(spec, str) and spec.startswith("decimal("):
        precision, scale = spec[len("decimal(") : -1].split(",")
        return pa.decimal128(int(precision), int(scale))
    if isinstance(spec, str):
        if spec not in _PRIMITIVES:
            raise TypeError(f"no direct-write Arrow type for Iceberg type {spec}")
        return _PRIMITIVES[spec]
    if spec["type"] == "struct":
        return pa.struct([_arrow_field(f) for f in spec["fields"]])
    if spec["type"] == "list":
        element = pa.field(
            "element",
            _arrow_type(spec["element"]),
            not spec["element-required"],
            metadata=_field_id(spec["element-id"]),
        )
        return pa.list_(element)
    raise TypeError(f"no direct-write Arrow type for Iceberg type {spec['type']}")


def _arrow_field(spec: dict[str, Any]) -> pa.Field:
    return pa.field(
        spec["name"], _arrow_type(spec["type"]), not spec["required"], metadata=_field_id(spec["id"])
    )


def arrow_schema(iceberg_schema_json: str) -> pa.Schema:
    """The Arrow schema of an Iceberg schema (``SchemaParser.toJson``), field ids attached."""
    return pa.schema([_arrow_field(f) for f in json.loads(iceberg_schema_json)["fields"]])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` under the Iceberg table's columns, in its order and with its field ids: columns
    the table has and ``table`` lacks are null; dictionary columns stay dictionaries (Parquet
    writes their pages directly) with the table's value type."""
    columns, fields = [], []
    for target in schema:
        if target.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, target.type))
            fields.append(target)
            continue
        column = table.column(target.name)
        if pa.types.is_dictionary(column.type) and column.type.value_type == target.type:
            fields.append(pa.field(target.name, column.type, True, metadata=target.metadata))
        else:
            column = column.cast(target.type)
            fields.append(target)
        columns.append(column)
    extra = set(table.column_names) - set(schema.names)
    if extra:
        raise ValueError(f"columns {sorted(extra)} are not in the table's schema")
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


# ----------------------------------------------------------------------------- checksum

_M1 = np.uint64(0x9E3779B185EBCA87)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_PRESENT = np.uint64(0x27D4EB2F165667C5)  # added to every non-null word: 0 and null differ


_SHIFTS = (np.uint64(33), np.uint64(29), np.uint64(32))
# Values mixed per pass: a block and its scratch stay in the core's cache across the steps of
# the mix (unblocked, each step streams the whole array through memory, ten times slower).
_BLOCK = 1 << 16


def _fmix(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser, in place on a fresh array (point clouds give millions of values)."""
    scratch = np.empty(min(_BLOCK, len(h)), np.uint64)
    for start in range(0, len(h), _BLOCK):
        _fmix_block(h[start : start + _BLOCK], scratch)
    return h


def _fmix_block(h: np.ndarray, scratch: np.ndarray) -> None:
    spare = scratch[: len(h)]
    for shift, multiplier in zip(_SHIFTS, (_M2, _M3, None), strict=True):
        np.right_shift(h, shift, out=spare)
        h ^= spare
        if multiplier is not None:
            h *= multiplier


@functools.lru_cache(maxsize=4096)
def _name_key(name: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little") | 1)


def _bytes_word(raw: bytes | memoryview) -> int:
    """A string's (UTF-8) or binary value's word: the first 8 bytes of BLAKE2b, or of SHA-1 (in
    hardware on x86-64 and ARMv8, twice as fast) from ``_LONG_VALUE`` bytes."""
    if len(raw) >= _LONG_VALUE:
        return int.from_bytes(hashlib.sha1(raw).digest()[:8], "little")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def _bytes_words(values: list[Any]) -> np.ndarray:
    return np.array(
        [_bytes_word(value.encode() if isinstance(value, str) else (value or b"")) for value in values],
        np.uint64,
    )


# Mean value size from which a string or binary array is hashed straight out of its buffer:
# dictionary-encoding blobs (a hash table over every byte, then a copy of each distinct value
# into Python) costs as much as hashing them. The words are the same either way.
_LONG_VALUE = 64


def _value_spans(array: pa.Array) -> tuple[np.ndarray, memoryview]:
    """A string or binary array's value offsets (``len + 1`` of them) and its data buffer."""
    large = pa.types.is_large_binary(array.type) or pa.types.is_large_string(array.type)
    offsets = np.frombuffer(array.buffers()[1], np.int64 if large else np.int32)
    data = array.buffers()[2]
    return offsets[array.offset : array.offset + len(array) + 1], memoryview(data or b"")


def _value_bytes(array: pa.Array) -> int:
    offsets, _ = _value_spans(array)
    return int(offsets[-1] - offsets[0])


def _buffer_words(array: pa.Array) -> np.ndarray:
    """``_bytes_words`` of every value, read in place (a null's word is masked by the caller)."""
    offsets, data = _value_spans(array)
    spans = itertools.pairwise(offsets.tolist())
    return np.array([_bytes_word(data[start:stop]) for start, stop in spans], np.uint64)


def _is_bytes(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _valid(array: pa.Array) -> np.ndarray | None:
    if array.null_count == 0:
        return None
    return np.asarray(array.is_valid().to_numpy(zero_copy_only=False))


def _words(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """One 64-bit word per value (what the checksum mixes) and the validity (None: all valid)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        dictionary = array.dictionary
        if not len(dictionary):  # every value null (e.g. a string column a batch lacks)
            return np.zeros(len(array), np.uint64), _valid(array)
        if _is_bytes(dictionary.type):
            values = _bytes_words(dictionary.to_pylist())  # each distinct value hashed once
        else:
            values, _ = _words(dictionary)
        indices = _indices(array, 0)
        return values[indices], _valid(array)
    if _is_bytes(kind):
        if len(array) and _value_bytes(array) >= _LONG_VALUE * len(array):
            return _buffer_words(array), _valid(array)  # blobs (images, packets) rarely repeat
        return _words(pc.dictionary_encode(array))
    if pa.types.is_boolean(kind):
        return array.fill_null(False).cast(pa.uint8()).to_numpy(zero_copy_only=False).astype(
            np.uint64
        ), _valid(array)
    if pa.types.is_floating(kind):
        source = _numbers(array, 0.0)
        values = np.add(source, 0.0, dtype=np.float64)  # widened, and -0.0 becomes 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            suspect = np.isnan(source.sum())  # any NaN makes the sum NaN (one pass, no mask)
        if suspect:
            values[np.isnan(values)] = np.nan  # one NaN
        return values.view(np.uint64), _valid(array)
    if pa.types.is_decimal(kind) and kind.bit_width == 128:  # uint64 needs 65 bits: both halves
        start = 2 * array.offset
        halves = np.frombuffer(array.buffers()[1], np.uint64)[start : start + 2 * len(array)]
        return _fmix(halves[0::2].copy()) + halves[1::2] * _M1, _valid(array)
    if pa.types.is_integer(kind) and kind.bit_width <= 64:
        return _numbers(array, 0).astype(np.int64, copy=False).view(np.uint64), _valid(array)
    if pa.types.is_temporal(kind):
        values = array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return values.view(np.uint64), _valid(array)
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        return _combine(zip(names, array.flatten(), strict=True), len(array)), _valid(array)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list_words(array), _valid(array)
    if pa.types.is_null(kind):
        return np.zeros(len(array), np.uint64), np.zeros(len(array), bool)
    raise TypeError(f"no checksum for Arrow type {kind}")


def _numbers(array: pa.Array, fill: Any) -> np.ndarray:
    """The values as numpy (nulls as ``fill``), without a copy when there are no nulls."""
    if array.null_count:
        array = array.fill_null(fill)
    return array.to_numpy(zero_copy_only=False)


def _indices(array: pa.DictionaryArray, null: int) -> np.ndarray:
    """A dictionary array's indices as numpy, ``null`` where the value is null (filled, and
    widened, only when there are nulls: CAN's tables carry millions of rows)."""
    indices = array.indices
    if indices.null_count:
        return indices.fill_null(null).to_numpy(zero_copy_only=False).astype(np.int64)
    return indices.to_numpy(zero_copy_only=False)


def _list_words(array: pa.Array) -> np.ndarray:
    """One word per list. A long list of numbers without nulls (a point cloud's channel) is
    hashed as its values' bytes (``_digest_sums``); any other list sums its elements' mixed
    words (``_mixed_sums``). Which one depends on the list alone, so any batching agrees."""
    lengths = _numbers(array.value_lengths(), 0).astype(np.int64)
    digested = _digestible(array, lengths)
    if digested is None:
        sums = _mixed_sums(array, lengths)
    else:
        sums = np.zeros(len(array), np.uint64)
        mixed = ~digested
        if mixed.any():
            sums[mixed] = _mixed_sums(array.filter(pa.array(mixed)), lengths[mixed])
        sums[digested] = _digest_sums(array, np.flatnonzero(digested))
    return _fmix(sums + lengths.astype(np.uint64) * _M1)


# Values from which a list of numbers is hashed as bytes (SHA-1, which this CPU family runs in
# hardware at ~1.4 GB/s): mixing each value with numpy takes ten passes over a widened copy.
_DIGEST_LIST = 256


def _digestible(array: pa.Array, lengths: np.ndarray) -> np.ndarray | None:
    """Which lists ``_digest_sums`` hashes (None: none): lists of integers or floats of at least
    ``_DIGEST_LIST`` values, none of them null."""
    kind = array.type.value_type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) or kind.bit_width < 8:
        return None
    chosen = lengths >= _DIGEST_LIST  # a null list has length 0 here
    if not chosen.any():
        return None
    values = array.values
    if values.null_count:
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.asarray(array.offsets)
        for i in np.flatnonzero(chosen).tolist():
            chosen[i] = bool(valid[offsets[i] : offsets[i + 1]].all())
    return chosen if chosen.any() else None


def _digest_sums(array: pa.Array, rows: np.ndarray) -> np.ndarray:
    """The first 8 bytes (little-endian) of SHA-1 over each chosen list's values, little-endian
    in ``_narrowest`` form."""
    values = array.values
    dtype = np.dtype(values.type.to_pandas_dtype())
    numbers = np.frombuffer(
        values.buffers()[1], dtype, count=len(values), offset=values.offset * dtype.itemsize
    )
    offsets = np.asarray(array.offsets).tolist()
    sums = []
    with np.errstate(over="ignore", invalid="ignore"):
        for i in rows.tolist():
            chunk = _narrowest(numbers[offsets[i] : offsets[i + 1]])
            sums.append(int.from_bytes(hashlib.sha1(chunk).digest()[:8], "little"))
    return np.array(sums, np.uint64)


def _narrowest(chunk: np.ndarray) -> np.ndarray:
    """A list's values in the narrower of 32 and 64 bits that holds all of them exactly, so that
    a column Iceberg promotes (int to long, float to double) keeps its sums; floats with -0.0
    as 0.0 and one NaN (copied: a list fits the cache)."""
    if chunk.dtype.kind == "f":
        if chunk.dtype.itemsize < 4:
            chunk = chunk.astype(np.float32)
        elif chunk.dtype.itemsize == 8:
            narrow = chunk.astype(np.float32)
            if np.array_equal(narrow, chunk, equal_nan=True):
                chunk = narrow
        chunk = chunk + chunk.dtype.type(0)  # -0.0 becomes 0.0
        if np.isnan(chunk.sum()):  # any NaN (or opposite infinities) makes the sum NaN
            chunk[np.isnan(chunk)] = np.nan
        return chunk
    if chunk.dtype.itemsize < 4:
        return chunk.astype(np.int32)
    if chunk.dtype == np.int32:
        return chunk
    if _INT32.min <= int(chunk.min()) and int(chunk.max()) <= _INT32.max:
        return chunk.astype(np.int32)
    return chunk if chunk.dtype == np.int64 else chunk.astype(np.int64)  # uint64 past 2^63 wraps


_INT32 = np.iinfo(np.int32)


def _mixed_sums(array: pa.Array, lengths: np.ndarray) -> np.ndarray:
    """Each list's sum of its elements' words, each mixed with its position."""
    values = array.flatten()
    words, valid = _words(values)
    starts = np.cumsum(lengths) - lengths  # where each list's values begin
    filled = lengths > 0
    widths = lengths[filled]
    sums = np.zeros(len(array), np.uint64)
    if len(widths) and bool((widths == widths[0]).all()):
        sums[filled] = _uniform_list_sums(words, valid, int(widths[0]))
    elif len(widths):
        element = words + _PRESENT
        if valid is not None:
            element[~valid] = 0
        position = np.arange(len(values), dtype=np.int64)
        position -= np.repeat(starts, lengths)
        position = position.view(np.uint64)
        position *= _M3
        element += position
        sums[filled] = np.add.reduceat(_fmix(element), starts[filled])
    return sums


def _uniform_list_sums(words: np.ndarray, valid: np.ndarray | None, width: int) -> np.ndarray:
    """Each list's sum of mixed elements when every (non-empty) list has ``width`` values, as
    a point cloud's channels do: the same position terms for every list, a block of whole
    lists at a time."""
    positions = _position_terms(width)
    lists = len(words) // width
    per_block = max(1, _BLOCK // width)
    element = np.empty(per_block * width, np.uint64)
    scratch = np.empty_like(element)
    sums = np.empty(lists, np.uint64)
    for first in range(0, lists, per_block):
        count = min(per_block, lists - first)
        span = slice(first * width, (first + count) * width)
        block = element[: count * width]
        np.add(words[span], _PRESENT, out=block)
        if valid is not None:
            block[~valid[span]] = 0
        rows = block.reshape(count, width)
        rows += positions
        _fmix_block(block, scratch)
        np.add.reduce(rows, axis=1, dtype=np.uint64, out=sums[first : first + count])
    return sums


_POSITION_TERMS: dict[int, np.ndarray] = {}
_POSITION_CACHE_WIDTH = 1 << 20  # 8 MB a length, at most 4 lengths kept


def _position_terms(width: int) -> np.ndarray:
    """``position * _M3`` for positions 0..width-1 (mod 2^64), kept for a few list lengths."""
    terms = _POSITION_TERMS.get(width)
    if terms is None:
        with np.errstate(over="ignore"):
            terms = np.arange(width, dtype=np.uint64) * _M3
        if width <= _POSITION_CACHE_WIDTH:
            if len(_POSITION_TERMS) >= 4:
                _POSITION_TERMS.pop(next(iter(_POSITION_TERMS)))
            _POSITION_TERMS[width] = terms
    return terms


def _combine(columns: Iterable[tuple[str, Any]], n: int) -> np.ndarray:
    total = np.zeros(n, np.uint64)
    scratch = np.empty(n, np.uint64)  # reused by every column: fresh big arrays cost page faults
    coded: dict[tuple[int, int, int], list[tuple[pa.Array, np.uint64]]] = {}
    for name, column in sorted(columns, key=lambda c: c[0]):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_dictionary(array.type) and not array.null_count and len(array):
            indices = array.indices
            shared = (indices.buffers()[1].address, indices.offset, indices.type.bit_width)
            coded.setdefault(shared, []).append((array, _name_key(name)))
            continue
        total += _term(array, _name_key(name), scratch)
    # Dictionary columns on one index buffer (CAN's message, signal and unit; a constant column
    # has a one-value dictionary) add their values' terms first, then look them up once.
    for members in coded.values():
        size = min(len(array.dictionary) for array, _ in members)
        terms = sum(_term(array.dictionary.slice(0, size), key) for array, key in members)
        if size == 1:
            total += terms[0]
        else:
            total += np.take(terms, _indices(members[0][0], 0), out=scratch)
    return _fmix(total)


def _term(array: pa.Array, key: np.uint64, out: np.ndarray | None = None) -> np.ndarray:
    """A column's share of each row's hash: 0 where null (in ``out`` when given)."""
    if pa.types.is_dictionary(array.type):  # mixed once per distinct value, then looked up
        terms = np.append(_term(array.dictionary, key), np.uint64(0))
        return np.take(terms, _indices(array, -1), out=out)  # -1 (null) picks the trailing 0
    words, valid = _words(array)
    term = np.add(words, _PRESENT, out=out)
    term *= key
    if valid is not None:
        term[~valid] = 0
    return term


def row_hash_sum(table: pa.Table | pa.RecordBatch) -> int:
    """The sum (mod 2^64) of every row's hash: order-independent, duplicates count twice."""
    if isinstance(table, pa.Table):  # batch by batch: combining a column's chunks copies it
        return sum(row_hash_sum(batch) for batch in table.to_batches()) % (1 << 64)
    with np.errstate(over="ignore"):
        hashes = _combine(zip(table.column_names, table.columns, strict=True), table.num_rows)
        return int(hashes.sum(dtype=np.uint64))


def digest(total: int) -> str:
    return f"{CHECKSUM_PREFIX}{total % (1 << 64):016x}"


def table_checksum(df: Any) -> tuple[int, str]:
    """Row count and ``rowhash64`` checksum of a Spark DataFrame (e.g. a table read back)."""

    def partial(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rows, total = 0, 0
        for batch in batches:
            rows += batch.num_rows
            total = (total + row_hash_sum(batch)) % (1 << 64)
        yield pa.RecordBatch.from_pydict({"n": [rows], "s": [str(total)]})

    parts = df.mapInArrow(partial, "n long, s string").collect()
    return sum(p.n for p in parts), digest(sum(int(p.s) for p in parts))


# ----------------------------------------------------------------------------- task side


@dataclass(frozen=True)
class Target:
    """Where and how a task writes one table's files (shipped to the executors)."""

    table: str  # catalog.database.table
    schema_json: str  # the Iceberg table's current schema
    data_root: str  # URI prefix of data files (the table's location provider)
    compression: str
    dictionary_bytes: int
    prefix: str  # of every file name: the run id and this execution's nonce


@dataclass(frozen=True)
class WrittenFile:
    table: str
    path: str
    vehicle_id: str
    day: str  # ISO date of days(log_time)
    rows: int
    size: int
    hash_sum: int
    source: str

    @property
    def partition(self) -> str:
        return f"vehicle_id={self.vehicle_id}/log_time_day={self.day}"


@dataclass
class _OpenFile:
    writer: pq.ParquetWriter
    path: str
    rows: int = 0
    hash_sum: int = 0

    def append(self, rows: pa.Table) -> None:
        self.writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
        self.rows += rows.num_rows
        self.hash_sum = (self.hash_sum + row_hash_sum(rows)) % (1 << 64)


class PartitionedWriter:
    """One Parquet file per (vehicle, day) a task's rows fall in; rows are appended in batches,
    so memory stays at one batch and the open writers' row groups."""

    def __init__(self, target: Target, source: str) -> None:
        self.target, self.source = target, source
        self.schema = arrow_schema(target.schema_json)
        self.open: dict[tuple[str, int], _OpenFile] = {}
        self.done: list[WrittenFile] = []

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        table = conform(table, self.schema)
        micros = table.column("log_time").cast(pa.int64()).to_numpy(zero_copy_only=False)
        days = micros // DAY_US
        vehicles = table.column("vehicle_id").unique().to_pylist()
        for vehicle in vehicles:
            part = (
                table if len(vehicles) == 1 else table.filter(pc.equal(table.column("vehicle_id"), vehicle))
            )
            part_days = (
                days if len(vehicles) == 1 else part.column("log_time").cast(pa.int64()).to_numpy() // DAY_US
            )
            first = int(part_days.min())
            unique = np.array([first]) if first == int(part_days.max()) else np.unique(part_days)
            for day in unique.tolist():
                rows = part if len(unique) == 1 else part.filter(pa.array(part_days == day))
                self._file(vehicle, day, rows.schema).append(rows)

    def _file(self, vehicle: str, day: int, schema: pa.Schema) -> _OpenFile:
        key = (vehicle, day)
        if key not in self.open:
            date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
            folder = f"vehicle_id={quote(vehicle, safe='')}/log_time_day={date}"
            name = f"{self.target.prefix}-{uuid.uuid4().hex}.parquet"
            path = f"{self.target.data_root.rstrip('/')}/{folder}/{name}"
            filesystem, local = objects.resolve(path)
            filesystem.create_dir(local.rsplit("/", 1)[0], recursive=True)
            dictionary = [f.name for f in schema if _dictionary_worthy(f.type)]
            writer = pq.ParquetWriter(
                local,
                schema,
                filesystem=filesystem,
                compression=self.target.compression,
                use_dictionary=dictionary,
                column_encoding={f.name: "DELTA_BINARY_PACKED" for f in schema if _delta_worthy(f.type)},
                dictionary_pagesize_limit=self.target.dictionary_bytes,
                write_statistics=True,
            )
            self.open[key] = _OpenFile(writer, path)
        return self.open[key]

    def close(self) -> list[WrittenFile]:
        for (vehicle, day), file in sorted(self.open.items()):
            file.writer.close()
            filesystem, local = objects.resolve(file.path)
            size = filesystem.get_file_info(local).size
            date = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
            self.done.append(
                WrittenFile(
                    self.target.table, file.path, vehicle, date, file.rows, size, file.hash_sum, self.source
                )
            )
        self.open.clear()
        return self.done

    def abort(self) -> None:
        """Closes and deletes every file (a unit that failed halfway writes nothing)."""
        for file in self.open.values():
            with contextlib.suppress(Exception):
                file.writer.close()
        for path in [f.path for f in self.open.values()] + [f.path for f in self.done]:
            filesystem, local = objects.resolve(path)
            with contextlib.suppress(Exception):
                filesystem.delete_file(local)
        self.open.clear()
        self.done.clear()


def write_unit(
    source: str, batches: Iterator[tuple[str, pa.Table]], targets: dict[str, Target]
) -> dict[str, Any]:
    """Writes one work unit's decoded tables (``batches``: table name and rows) to their data
    files. Reading or decoding the input (drawing the next batch) can reject its object: the
    unit's files are deleted and the error returned. A failed write fails the task (its files
    deleted first), as a storage fault is no fault of the input."""
    from drivetrain_spark.sources import Rejected

    writers: dict[str, PartitionedWriter] = {}
    try:
        while True:
            try:
                item = next(batches, None)
            except Rejected as err:
                _abort(writers)
                return {"uri": source, "error": (err.reason, err.detail)}
            except Exception as err:
                _abort(writers)
                return {"uri": source, "error": ("decode_error", f"{type(err).__name__}: {err}")}
            if item is None:
                break
            table, rows = item
            writer = writers.get(table)
            if writer is None:
                writer = writers[table] = PartitionedWriter(targets[table], source)
            writer.write(rows)
        files = [f for writer in writers.values() for f in writer.close()]
    except BaseException:
        _abort(writers)
        raise
    return {"uri": source, "files": files}


def _abort(writers: dict[str, PartitionedWriter]) -> None:
    for writer in writers.values():
        writer.abort()


def _dictionary_worthy(kind: pa.DataType) -> bool:
    # Strings and small ints repeat (names, units, buses); floats, 64-bit ints and timestamps
    # rarely fit a dictionary, and trying costs a hash per value.
    return (
        pa.types.is_dictionary(kind)
        or pa.types.is_string(kind)
        or pa.types.is_boolean(kind)
        or (pa.types.is_integer(kind) and kind.bit_width <= 32)
    )


def _delta_worthy(kind: pa.DataType) -> bool:
    # Times and 64-bit ids climb or repeat row to row: as deltas, bit-packed, CAN's files are
    # 58% smaller and zstd has less to compress (Iceberg's Java readers read the encoding).
    return pa.types.is_timestamp(kind) or (pa.types.is_integer(kind) and kind.bit_width == 64)


def committed_maybe(err: Exception) -> bool:
    """Iceberg could not tell whether the commit landed (e.g. a catalog timeout): the files it
    names may be in the table, so nothing may be deleted."""
    return "CommitStateUnknownException" in str(err)


def delete_files(files: Iterable[WrittenFile]) -> None:
    for f in files:
        filesystem, local = objects.resolve(f.path)
        with contextlib.suppress(Exception):
            filesystem.delete_file(local)


def delete_written(target: Target) -> None:
    """Deletes every file this execution wrote under ``target`` (its name prefix is unique to
    it), e.g. those of the tasks that finished before another failed. None was committed."""
    filesystem, root = objects.resolve(target.data_root)
    try:
        listing = filesystem.get_file_info(fs.FileSelector(root.rstrip("/"), recursive=True))
    except FileNotFoundError:
        return
    for info in listing:
        if info.type == fs.FileType.File and info.base_name.startswith(f"{target.prefix}-"):
            with contextlib.suppress(Exception):
                filesystem.delete_file(info.path)


# ----------------------------------------------------------------------------- driver side


def target_for(spark: Any, name: str, run_id: str) -> Target:
    from drivetrain_spark.warehouse import iceberg_table

    table = iceberg_table(spark, name)
    jvm = spark._jvm
    fields = [f.name() for f in table.spec().fields()]
    if tuple(fields) != PARTITION_FIELDS:
        raise ValueError(f"{name} is partitioned by {fields}, not {list(PARTITION_FIELDS)}")
    marker = "_drivetrain_"
    root = table.locationProvider().newDataLocation(marker)[: -len(marker)]
    props = table.properties()
    return Target(
        name,
        jvm.org.apache.iceberg.SchemaParser.toJson(table.schema()),
        root,
        props.getOrDefault("write.parquet.compression-codec", "zstd"),
        int(props.getOrDefault("write.parquet.dict-size-bytes", str(2 << 20))),
        f"{quote(run_id, safe='')}-{uuid.uuid4().hex[:12]}",
    )


def _data_file(jvm: Any, table: Any, path: str, size: int, partition: list[str], metrics_config: Any) -> Any:
    metrics = jvm.org.apache.iceberg.parquet.ParquetUtil.fileMetrics(
        table.io().newInputFile(path), metrics_config
    )
    return (
        jvm.org.apache.iceberg.DataFiles.builder(table.spec())
        .withPath(path)
        .withFormat(jvm.org.apache.iceberg.FileFormat.PARQUET)
        .withFileSizeInBytes(size)
        .withPartitionValues(partition)
        .withMetrics(metrics)
        .build()
    )


def _bound(jvm: Any, bounds: Any, field_id: int) -> str | None:
    if bounds is None or bounds.get(field_id) is None:
        return None
    value = jvm.org.apache.iceberg.types.Conversions.fromByteBuffer(
        jvm.org.apache.iceberg.types.Types.StringType.get(), bounds.get(field_id)
    )
    return value.toString()


@dataclass
class _Removal:
    deleted: list[Any]
    rewritten: list[tuple[Any, Any]]  # (old DataFile, new DataFile)
    partitions: set[str]


def _remove_sources(
    spark: Any, table: Any, snapshot_id: int, sources: list[str], metrics_config: Any
) -> _Removal:
    """The files of snapshot ``snapshot_id`` holding rows of ``sources``: those to delete, and
    those mixing other objects' rows, rewritten without the sources' rows."""
    jvm = spark._jvm
    expressions = jvm.org.apache.iceberg.expressions.Expressions
    field_id = table.schema().findField("source_uri").fieldId()
    scan = (
        table.newScan()
        .useSnapshot(snapshot_id)
        .filter(getattr(expressions, "in")("source_uri", list(sources)))
    )
    removal = _Removal([], [], set())
    wanted = set(sources)
    iterator = scan.planFiles().iterator()
    try:
        while iterator.hasNext():
            task = iterator.next()
            if not task.deletes().isEmpty():
                raise ValueError(
                    f"{table.name()} has delete files; direct commits handle copy-on-write tables only"
                )
            data = task.file()
            path = data.location()
            lower = _bound(jvm, data.lowerBounds(), field_id)
            upper = _bound(jvm, data.upperBounds(), field_id)
            nulls = data.nullValueCounts()
            no_nulls = nulls is not None and nulls.get(field_id) is not None and int(nulls.get(field_id)) == 0
            partition = _partition_name(table.spec().partitionToPath(data.partition()))
            if lower is not None and lower == upper and lower in wanted and no_nulls:
                removal.deleted.append(data)
                removal.partitions.add(partition)
                continue
            kept = _rewrite_without(path, wanted)
            if kept is None:
                continue  # none of the sources' rows after all (bounds only said "maybe")
            removal.partitions.add(partition)
            if kept[0] == 0:
                objects_fs, local = objects.resolve(kept[1])
                objects_fs.delete_file(local)
                removal.deleted.append(data)
                continue
            new_path, size = kept[1], kept[2]
            metrics = jvm.org.apache.iceberg.parquet.ParquetUtil.fileMetrics(
                table.io().newInputFile(new_path), metrics_config
            )
            copy = (
                jvm.org.apache.iceberg.DataFiles.builder(table.spec())
                .copy(data)
                .withPath(new_path)
                .withFileSizeInBytes(size)
                .withMetrics(metrics)
                .build()
            )
            removal.rewritten.append((data, copy))
    finally:
        iterator.close()
    return removal


def _partition_name(path: str) -> str:
    """Iceberg's partition path with its values unescaped, as the manifest lists partitions."""
    return "/".join(f"{k}={unquote_plus(v)}" for k, v in (p.split("=", 1) for p in path.split("/")))


def _rewrite_without(path: str, sources: set[str]) -> tuple[int, str, int] | None:
    """Copies the file without the sources' rows, next to it; None when it holds none of them.
    Returns (rows kept, new path, new size)."""
    filesystem, local = objects.resolve(path)
    with filesystem.open_input_file(local) as handle:
        column = pq.read_table(handle, columns=["source_uri"]).column("source_uri")
    drop = pc.is_in(column, value_set=pa.array(sorted(sources)))
    if not pc.any(drop).as_py():
        return None
    new_path = f"{path.rsplit('/', 1)[0]}/rewrite-{uuid.uuid4().hex}.parquet"
    new_fs, new_local = objects.resolve(new_path)
    kept = 0
    with filesystem.open_input_file(local) as handle:
        reader = pq.ParquetFile(handle)
        with pq.ParquetWriter(
            new_local, reader.schema_arrow, filesystem=new_fs, compression="zstd"
        ) as writer:
            for batch in reader.iter_batches(batch_size=65536):
                keep = pc.invert(pc.is_in(batch.column("source_uri"), value_set=pa.array(sorted(sources))))
                rows = batch.filter(keep)
                kept += rows.num_rows
                writer.write_batch(rows)
    return kept, new_path, new_fs.get_file_info(new_local).size


def commit(
    spark: Any,
    name: str,
    files: list[WrittenFile],
    sources: list[str],
    run_id: str,
    warehouse: str,
) -> Any:
    """One Iceberg snapshot (a ``warehouse.Committed``) in which ``files`` replace every row of
    ``sources``; None when the table has neither new nor old rows of them. Validated from the
    snapshot it read (no data of the sources added, no file it deletes removed, since then);
    retried on a conflict."""
    from drivetrain_spark import warehouse as tables

    jvm = spark._jvm
    table = tables.iceberg_table(spark, name)
    metrics_config = jvm.org.apache.iceberg.MetricsConfig.forTable(table)
    added = [_data_file(jvm, table, f.path, f.size, [f.vehicle_id, f.day], metrics_config) for f in files]
    in_sources = getattr(jvm.org.apache.iceberg.expressions.Expressions, "in")("source_uri", list(sources))
    with tables.commit_lock(warehouse, name):
        for attempt in range(tables.COMMIT_ATTEMPTS):
            table = tables.iceberg_table(spark, name)
            base = table.currentSnapshot()
            removal = _Removal([], [], set())
            if base is not None:
                removal = _remove_sources(spark, table, base.snapshotId(), sources, metrics_config)
            if not added and not removal.deleted and not removal.rewritten:
                return None
            update = table.newOverwrite()
            for data in added:
                update.addFile(data)
            for data in removal.deleted:
                update.deleteFile(data)
            for old, new in removal.rewritten:
                update.deleteFile(old)
                update.addFile(new)
            if base is not None:
                update.validateFromSnapshot(base.snapshotId())
            update.conflictDetectionFilter(
                in_sources
            ).validateNoConflictingData().validateNoConflictingDeletes()
            update.set(tables.RUN_PROPERTY, run_id)
            try:
                update.commit()
                break
            except Exception as err:
                if committed_maybe(err):
                    raise  # the snapshot may hold the files: delete nothing
                for _, new in removal.rewritten:
                    filesystem, local = objects.resolve(new.location())
                    with contextlib.suppress(Exception):
                        filesystem.delete_file(local)
                if not tables.is_conflict(err) or attempt + 1 == tables.COMMIT_ATTEMPTS:
                    raise
                time.sleep(0.2 * (attempt + 1))
    partitions = sorted({f.partition for f in files} | removal.partitions)
    total = sum(f.hash_sum for f in files)
    return tables.Committed(
        sum(f.rows for f in files), tables.run_snapshot(spark, name, run_id), digest(total), partitions
    )


# ----------------------------------------------------------------------------- a run's writes


@dataclass
class DirectWrites:
    """What a run's write tasks returned: per unit its object, the files it wrote (any table)
    and the rows of its small side tables (``extra``), or the error that rejects the object."""

    targets: dict[str, Target]  # table -> where its files went
    results: list[dict[str, Any]]

    @property
    def errors(self) -> dict[str, tuple[str, str]]:
        errors: dict[str, tuple[str, str]] = {}
        for r in self.results:
            if "error" in r:
                errors.setdefault(r["uri"], tuple(r["error"]))
        return errors

    def files_of(self, chosen: set[str], table: str | None = None) -> list[WrittenFile]:
        name = None if table is None else self.targets[table].table
        return [
            f
            for r in self.results
            if r["uri"] in chosen
            for f in r.get("files", [])
            if name is None or f.table == name
        ]

    def files_outside(self, chosen: set[str]) -> list[WrittenFile]:
        return [f for r in self.results if r["uri"] not in chosen for f in r.get("files", [])]

    def extra(self, chosen: set[str]) -> list[dict[str, Any]]:
        return [row for r in self.results if r["uri"] in chosen for row in r.get("extra", [])]


def write(spark: Any, units: list[tuple], task: Any, targets: dict[str, Target], slices: int) -> DirectWrites:
    """Runs ``task`` (a ``mapPartitions`` function over unit tuples) in ``slices`` tasks. A task
    that fails fails the run, and every file this execution wrote is deleted: none is committed."""
    try:
        results = spark.sparkContext.parallelize(units, slices).mapPartitions(task).collect()
    except Exception:
        for target in targets.values():
            delete_written(target)
        raise
    return DirectWrites(targets, results)


def commit_all(
    spark: Any,
    direct: DirectWrites,
    sources_by_table: dict[str, list[str]],
    run_id: str,
    warehouse: str,
    threads: int = 4,
) -> dict[str, Any]:
    """One commit per table (``commit``), in parallel: each table's files of its good objects
    replace those objects' rows. Files of rejected objects are deleted first; a table whose
    commit fails has its new files deleted (unless the commit may have landed) and fails the run."""
    from concurrent.futures import ThreadPoolExecutor

    good = {uri for uris in sources_by_table.values() for uri in uris}
    delete_files(direct.files_outside(good))

    def one(table: str) -> tuple[str, Any]:
        chosen = set(sources_by_table[table])
        files = direct.files_of(chosen, table)
        name = direct.targets[table].table
        try:
            return table, commit(spark, name, files, sorted(chosen), run_id, warehouse)
        except Exception as err:
            if not committed_maybe(err):
                delete_files(files)
            raise

    with ThreadPoolExecutor(threads) as pool:
        done = dict(pool.map(one, sorted(t for t, uris in sources_by_table.items() if uris)))
    return {table: committed for table, committed in done.items() if committed is not None}
