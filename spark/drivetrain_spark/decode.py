"""The decode stage: work units in, rows of every table out, decoding the logs twice and
staging nothing big.

Pass one (``decode_units(plan)``) decodes every unit completely, so that every object that
cannot be read is known before anything commits, but keeps only what the commits need: for
each table and object, the vehicle-days its rows fall in (``_keys``, the partitions its commit
replaces), the counts of CAN frames with unknown ids (``can_unknown_ids``, a small table), and
``_error`` for a unit that failed (its object is quarantined and none of its rows commit).
Each table's commit then runs pass two (``decode_units(plan, only=table)``), which decodes only
that table's messages of the objects that passed and hands its rows to the Iceberg write.
Decoding in Python costs a few percent of what Spark's row-by-row Parquet writes and reads of
staged nested rows (megabyte point clouds, long CAN signal tables) cost, so the second decode
is much cheaper than staging. Rows leave in Arrow batches of bounded size, so memory stays
flat however large a log is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema, to_arrow_type
from pyspark.sql.types import DateType, StringType, StructField, StructType

from drivetrain_spark import curated, messages, sources
from drivetrain_spark.tables import CURATED

BATCH_ROWS = 4096
BATCH_BYTES = 16 << 20
META_FIELDS = (
    StructField("_table", StringType(), False),
    StructField("_source", StringType(), False),
    StructField("_error", StringType(), True),
)
KEYS = "_keys"  # pass one's rows: the vehicle-days of a table's rows from one object
KEY_FIELDS = (
    StructField("_keys:table", StringType(), True),
    StructField("_keys:vehicle_id", StringType(), True),
    StructField("_keys:day", DateType(), True),
)
STAGED_TABLES = ("can_unknown_ids",)  # small tables that pass one stages whole
DAY_US = 86_400_000_000


@dataclass(frozen=True)
class FileEntry:
    """What an executor needs to decode one object's units (shipped in a broadcast)."""

    uri: str
    vehicle_id: str
    drive_id: str
    channels: dict[int, sources.Channel]
    tables: dict[int, str]  # channel id -> table


@dataclass
class Plan:
    files: dict[str, FileEntry] = field(default_factory=dict)
    tables: dict[str, StructType] = field(default_factory=dict)  # full row schemas
    can: dict[str, Any] = field(default_factory=dict)  # DBC and options for .can.parquet units

    def envelope(self) -> StructType:
        """Pass one's output: meta columns, the keys, and the staged small tables' columns side by
        side (``<table>:<column>``; Spark reads flat columns with its vectorised reader)."""
        columns = [
            StructField(staged_name(t, f.name), f.dataType, True)
            for t, schema in sorted(self.tables.items())
            if t in STAGED_TABLES
            for f in schema.fields
        ]
        return StructType([*META_FIELDS, *KEY_FIELDS, *columns])


def staged_name(table: str, column: str) -> str:
    """A table's column in the staging envelope (``:`` is in no table name)."""
    return f"{table}:{column}"


def staged_columns(table: str, schema: StructType) -> list[Column]:
    """The envelope's columns of one table, under the table's own names."""
    return [F.col(f"`{staged_name(table, f.name)}`").alias(f.name) for f in schema.fields]


UNIT_SCHEMA = "uri string, format string, index int, offset long, length long"


def decode_units(
    plan: Plan, only: str | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Pass one (``only`` None): the envelope, every unit's failure caught and reported. Pass
    two: the rows of table ``only``; a failure fails the task, as pass one saw none."""
    if only is not None:
        return _table_rows(plan, only)
    envelope = plan.envelope()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        out = Batcher(to_arrow_schema(envelope), {t: to_arrow_type(s) for t, s in plan.tables.items()})
        types: dict[tuple[str, str, bytes, str], messages.MessageType] = {}
        for batch in batches:
            for unit_row in batch.to_pylist():
                unit = sources.Unit(**unit_row)
                try:
                    yield from _decode_unit(unit, plan, types, out, None)
                except sources.Rejected as err:
                    yield out.error(unit.uri, err.reason, err.detail)
                except Exception as err:
                    yield out.error(unit.uri, "decode_error", f"{type(err).__name__}: {err}")
                yield from out.flush_all()
        yield from out.flush_all()

    return run


def _table_rows(plan: Plan, table: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    row_type = to_arrow_type(plan.tables[table])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        out = TableBatcher(table, row_type)
        types: dict[tuple[str, str, bytes, str], messages.MessageType] = {}
        for batch in batches:
            for unit_row in batch.to_pylist():
                yield from _decode_unit(sources.Unit(**unit_row), plan, types, out, table)
                yield from out.flush_all()

    return run


def _decode_unit(
    unit: sources.Unit,
    plan: Plan,
    types: dict[tuple[str, str, bytes, str], messages.MessageType],
    out: Batcher | TableBatcher,
    only: str | None,
) -> Iterator[pa.RecordBatch]:
    if unit.format == "can":
        from drivetrain_spark import can

        for table, rows in can.decode_unit(unit, plan, only):
            yield from out.extend(table, unit.uri, rows)
        return
    entry = plan.files[unit.uri]
    for raw in sources.read(unit, entry.channels):
        channel = entry.channels.get(raw.channel_id)
        if channel is None:
            raise sources.Rejected(
                "unknown_schema", f"message on channel {raw.channel_id}, which is not declared"
            )
        table = entry.tables[raw.channel_id]
        if only is not None and table != only:
            continue
        mtype = types.get(channel.schema.key)
        if mtype is None:
            mtype = types[channel.schema.key] = messages.load(channel.schema)
        message = mtype.decode(raw.data)
        converter = curated.CONVERTERS.get(table) if table in CURATED else None
        row = converter(message) if converter else mtype.row(message)
        row.update(
            vehicle_id=entry.vehicle_id,
            drive_id=entry.drive_id,
            source_uri=unit.uri,
            topic=channel.topic,
            log_time=raw.log_time // 1000,
            publish_time=raw.publish_time // 1000,
            log_time_ns=raw.log_time,
        )
        yield from out.add(table, unit.uri, row, len(raw.data))


class Batcher:
    """Pass one's output: keeps the vehicle-days of each table's rows per object, buffers the
    staged small tables' rows, and emits envelope batches of bounded rows and bytes."""

    def __init__(self, schema: pa.Schema, row_types: dict[str, pa.DataType]) -> None:
        self.schema = schema
        self.row_types = row_types  # each table's row struct
        self.rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bytes: dict[tuple[str, str], int] = {}
        self.keys: dict[str, set[tuple[str, str, int]]] = {}  # source -> (table, vehicle, day)

    def add(self, table: str, source: str, row: dict[str, Any], size: int) -> Iterator[pa.RecordBatch]:
        key = (table, source)
        self.rows.setdefault(key, []).append(row)
        self.bytes[key] = self.bytes.get(key, 0) + size
        if len(self.rows[key]) >= BATCH_ROWS or self.bytes[key] >= BATCH_BYTES:
            yield from self._flush(key)

    def extend(self, table: str, source: str, rows: pa.StructArray) -> Iterator[pa.RecordBatch]:
        if not len(rows):
            return
        if table not in STAGED_TABLES:
            micros = rows.field("log_time").cast(pa.int64()).to_numpy(zero_copy_only=False)
            vehicles = rows.field("vehicle_id").unique().to_pylist()
            days = np.unique(micros // DAY_US).tolist()
            self.keys.setdefault(source, set()).update((table, v, d) for v in vehicles for d in days)
            return
        yield self._batch(table, source, rows)

    def flush_all(self) -> Iterator[pa.RecordBatch]:
        for key in list(self.rows):
            if self.rows[key]:
                yield from self._flush(key)
        for source in list(self.keys):
            yield self._keys(source, sorted(self.keys.pop(source)))

    def error(self, source: str, reason: str, detail: str) -> pa.RecordBatch:
        for key in [k for k in self.rows if k[1] == source]:
            del self.rows[key]  # rows of a rejected object never reach a table
        self.keys.pop(source, None)
        return self._meta(
            "_errors", source, 1, pa.array([json.dumps({"reason": reason, "detail": detail})]), {}
        )

    def _keys(self, source: str, keys: list[tuple[str, str, int]]) -> pa.RecordBatch:
        tables, vehicles, days = zip(*keys, strict=True)
        own = {
            "_keys:table": pa.array(tables, pa.string()),
            "_keys:vehicle_id": pa.array(vehicles, pa.string()),
            "_keys:day": pa.array(days, pa.int32()).cast(pa.date32()),
        }
        return self._meta(KEYS, source, len(keys), pa.nulls(len(keys), pa.string()), own)

    def _flush(self, key: tuple[str, str]) -> Iterator[pa.RecordBatch]:
        # Converted in both passes: a row Arrow refuses quarantines its object here, in pass one.
        table, source = key
        rows = self.rows.pop(key)
        self.bytes.pop(key, None)
        yield from self.extend(table, source, pa.array(rows, type=self.row_types[table]))

    def _batch(self, table: str, source: str, values: pa.StructArray) -> pa.RecordBatch:
        own = {
            staged_name(table, f.name): child for f, child in zip(values.type, values.flatten(), strict=True)
        }
        return self._meta(table, source, len(values), pa.nulls(len(values), pa.string()), own)

    def _meta(
        self, table: str, source: str, n: int, error: pa.Array, own: dict[str, pa.Array]
    ) -> pa.RecordBatch:
        columns: list[pa.Array] = [_repeat(table, n), _repeat(source, n), error]
        for f in list(self.schema)[3:]:
            columns.append(own[f.name] if f.name in own else pa.nulls(n, f.type))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


class TableBatcher:
    """Pass two's output: one table's rows, in batches of bounded rows and bytes."""

    def __init__(self, table: str, row_type: pa.DataType) -> None:
        self.table = table
        self.row_type = row_type
        self.rows: list[dict[str, Any]] = []
        self.bytes = 0

    def add(self, table: str, source: str, row: dict[str, Any], size: int) -> Iterator[pa.RecordBatch]:
        self.rows.append(row)
        self.bytes += size
        if len(self.rows) >= BATCH_ROWS or self.bytes >= BATCH_BYTES:
            yield from self.flush_all()

    def extend(self, table: str, source: str, rows: pa.StructArray) -> Iterator[pa.RecordBatch]:
        if table == self.table and len(rows):
            yield pa.RecordBatch.from_struct_array(rows.cast(self.row_type))

    def flush_all(self) -> Iterator[pa.RecordBatch]:
        if self.rows:
            rows, self.rows, self.bytes = self.rows, [], 0
            yield pa.RecordBatch.from_struct_array(pa.array(rows, type=self.row_type))


def _repeat(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), [value]).cast(pa.string())
