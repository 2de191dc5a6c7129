"""The decode stage: work units in, rows of every table out, in one pass over the logs.

``mapInArrow`` runs ``decode_units`` on the executors. Its output is an envelope with every
table's top-level columns side by side, named ``<table>:<column>`` (only the row's own table's
are set), plus ``_table`` (a staging partition, so each table is later read alone) and
``_error`` (a unit that could not be read: its object is quarantined and none of its rows are
committed). Flat, not a struct per table: Spark reads flat tables (CAN signals) back with its
vectorised Parquet reader, nested ones row by row. Rows leave in Arrow batches of
bounded size, so memory stays flat however large a log is.
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
from pyspark.sql.types import StringType, StructField, StructType

from drivetrain_spark import curated, messages, sources
from drivetrain_spark.tables import CURATED

BATCH_ROWS = 4096
BATCH_BYTES = 16 << 20
META_FIELDS = (
    StructField("_table", StringType(), False),
    StructField("_source", StringType(), False),
    StructField("_error", StringType(), True),
)


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
        columns = [
            StructField(staged_name(t, f.name), f.dataType, True)
            for t, schema in sorted(self.tables.items())
            for f in schema.fields
        ]
        return StructType([*META_FIELDS, *columns])


def staged_name(table: str, column: str) -> str:
    """A table's column in the staging envelope (``:`` is in no table name)."""
    return f"{table}:{column}"


def staged_columns(table: str, schema: StructType) -> list[Column]:
    """The envelope's columns of one table, under the table's own names."""
    return [F.col(f"`{staged_name(table, f.name)}`").alias(f.name) for f in schema.fields]


UNIT_SCHEMA = "uri string, format string, index int, offset long, length long"


def decode_units(plan: Plan) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    envelope = plan.envelope()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        out = Batcher(to_arrow_schema(envelope), {t: to_arrow_type(s) for t, s in plan.tables.items()})
        types: dict[tuple[str, str, bytes, str], messages.MessageType] = {}
        for batch in batches:
            for unit_row in batch.to_pylist():
                unit = sources.Unit(**unit_row)
                try:
                    if unit.format == "can":
                        from drivetrain_spark import can

                        for table, rows in can.decode_unit(unit, plan):
                            yield from out.extend(table, unit.uri, rows)
                    else:
                        yield from _decode_log_unit(unit, plan, types, out)
                except sources.Rejected as err:
                    yield out.error(unit.uri, err.reason, err.detail)
                except Exception as err:
                    yield out.error(unit.uri, "decode_error", f"{type(err).__name__}: {err}")
                yield from out.flush_all()
        yield from out.flush_all()

    return run


def _decode_log_unit(
    unit: sources.Unit,
    plan: Plan,
    types: dict[tuple[str, str, bytes, str], messages.MessageType],
    out: Batcher,
) -> Iterator[pa.RecordBatch]:
    entry = plan.files[unit.uri]
    for raw in sources.read(unit, entry.channels):
        channel = entry.channels.get(raw.channel_id)
        if channel is None:
            raise sources.Rejected(
                "unknown_schema", f"message on channel {raw.channel_id}, which is not declared"
            )
        table = entry.tables[raw.channel_id]
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
    """Buffers rows per table and emits envelope batches of bounded rows and bytes."""

    def __init__(self, schema: pa.Schema, row_types: dict[str, pa.DataType]) -> None:
        self.schema = schema
        self.row_types = row_types  # each table's row struct
        self.rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bytes: dict[tuple[str, str], int] = {}

    def add(self, table: str, source: str, row: dict[str, Any], size: int) -> Iterator[pa.RecordBatch]:
        key = (table, source)
        self.rows.setdefault(key, []).append(row)
        self.bytes[key] = self.bytes.get(key, 0) + size
        if len(self.rows[key]) >= BATCH_ROWS or self.bytes[key] >= BATCH_BYTES:
            yield self._flush(key)

    def extend(self, table: str, source: str, rows: pa.StructArray) -> Iterator[pa.RecordBatch]:
        if len(rows):
            yield self._batch(table, source, rows)

    def flush_all(self) -> Iterator[pa.RecordBatch]:
        for key in list(self.rows):
            if self.rows[key]:
                yield self._flush(key)

    def error(self, source: str, reason: str, detail: str) -> pa.RecordBatch:
        for key in [k for k in self.rows if k[1] == source]:
            del self.rows[key]  # rows of a rejected object never reach a table
        columns = [
            pa.array(["_errors"]),
            pa.array([source]),
            pa.array([json.dumps({"reason": reason, "detail": detail})]),
        ]
        columns += [pa.nulls(1, f.type) for f in self.schema][3:]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def _flush(self, key: tuple[str, str]) -> pa.RecordBatch:
        table, source = key
        rows = self.rows.pop(key)
        self.bytes.pop(key, None)
        return self._batch(table, source, pa.array(rows, type=self.row_types[table]))

    def _batch(self, table: str, source: str, values: pa.StructArray) -> pa.RecordBatch:
        n = len(values)
        own = {
            staged_name(table, f.name): child for f, child in zip(values.type, values.flatten(), strict=True)
        }
        columns: list[pa.Array] = [
            pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), [table]).cast(pa.string()),
            pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), [source]).cast(pa.string()),
            pa.nulls(n, pa.string()),
        ]
        for f in list(self.schema)[3:]:
            columns.append(own[f.name] if f.name in own else pa.nulls(n, f.type))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)
