"""The write stage of MCAP, ROS 1 bag and ROS 2 sqlite logs: one task per work unit (a byte
span of whole chunks, or an id range of sqlite rows) decodes its messages into Arrow columns
and writes each table's Parquet data files itself (``datafiles.py``), under the table's
Iceberg schema; the driver then commits each table once.

Rows never become Spark rows. Per table, a unit's messages are gathered column by column: the
common columns (vehicle, drive, object, topic, times) as plain arrays, the message's own
columns converted once into Arrow under the table's schema, and point clouds as typed arrays
cut straight from the message's byte buffer with numpy (``PointCloudRows``). Batches leave at
``BATCH_ROWS`` rows or ``BATCH_BYTES`` of messages, so a task holds one batch per table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drivetrain_spark import curated, datafiles, messages, sources
from drivetrain_spark.tables import COMMON_COLUMNS, CURATED

BATCH_ROWS = 4096
BATCH_BYTES = 16 << 20


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
    tables: dict[str, Any] = field(default_factory=dict)  # log tables' Spark row schemas
    can: dict[str, Any] = field(default_factory=dict)  # DBC and options for .can.parquet units


def write_units(
    plan: Plan, targets: dict[str, datafiles.Target]
) -> Callable[[Iterator[tuple]], Iterator[dict[str, Any]]]:
    """The task (``mapPartitions`` over unit tuples): per unit, the files it wrote, or the
    error that rejects its object (see ``datafiles.write_unit``)."""

    def run(rows: Iterator[tuple]) -> Iterator[dict[str, Any]]:
        schemas: dict[str, pa.Schema] = {}
        types = _worker_types()
        for row in rows:
            unit = sources.Unit(*row)
            if unit.format == "can":
                from drivetrain_spark import can

                yield can.write_unit(unit, plan, targets["can_signals"])
                continue
            for table in set(plan.files[unit.uri].tables.values()) - set(schemas):
                schemas[table] = datafiles.arrow_schema(targets[table].schema_json)
            batches = unit_tables(unit, plan.files[unit.uri], schemas, types)
            yield datafiles.write_unit(unit.uri, batches, targets)

    return run


# Message types built in this (reused) Python worker, by schema: building one generates and
# compiles its decoder, which cost each unit a tenth of a second per type when kept per task.
_TYPES: dict[tuple[str, str, bytes, str], messages.MessageType] = {}
_TYPES_KEPT = 512


def _worker_types() -> dict[tuple[str, str, bytes, str], messages.MessageType]:
    if len(_TYPES) > _TYPES_KEPT:
        _TYPES.clear()
    return _TYPES


def unit_tables(
    unit: sources.Unit,
    entry: FileEntry,
    schemas: dict[str, pa.Schema],
    types: dict[tuple[str, str, bytes, str], messages.MessageType],
) -> Iterator[tuple[str, pa.Table]]:
    """The unit's rows as Arrow tables under ``schemas`` (table -> its Arrow schema), in batches.
    Raises ``sources.Rejected`` (or any decoding error) for an object that cannot be read."""
    pending: dict[str, TableRows] = {}
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
        rows = pending.get(table)
        if rows is None:
            rows = pending[table] = rows_for(table, schemas[table])
        rows.add(mtype, mtype.decode(raw.data), channel.topic, raw.log_time, raw.publish_time, len(raw.data))
        if rows.full():
            yield table, rows.take(entry.vehicle_id, entry.drive_id, unit.uri)
    for table, rows in pending.items():
        if rows.count:
            yield table, rows.take(entry.vehicle_id, entry.drive_id, unit.uri)


def rows_for(table: str, schema: pa.Schema) -> TableRows:
    if table == "point_clouds":
        return PointCloudRows(schema)
    converter = curated.CONVERTERS.get(table) if table in CURATED else None
    return TableRows(schema, converter)


class TableRows:
    """One table's pending rows, column by column."""

    def __init__(self, schema: pa.Schema, converter: Callable[[Any], dict[str, Any]] | None) -> None:
        self.schema = schema
        self.own = pa.struct([f for f in schema if f.name not in COMMON_COLUMNS])
        self.converter = converter
        self.values: list[dict[str, Any]] = []
        self.topics: list[str] = []
        self.times: list[int] = []
        self.publish: list[int] = []
        self.bytes = 0

    @property
    def count(self) -> int:
        return len(self.times)

    def full(self) -> bool:
        return self.count >= BATCH_ROWS or self.bytes >= BATCH_BYTES

    def add(self, mtype: Any, message: Any, topic: str, log_time: int, publish_time: int, size: int) -> None:
        self.values.append(self.converter(message) if self.converter else mtype.row(message))
        self.topics.append(topic)
        self.times.append(log_time)
        self.publish.append(publish_time)
        self.bytes += size

    def own_columns(self) -> dict[str, pa.Array]:
        values = pa.array(self.values, type=self.own)
        return {f.name: column for f, column in zip(self.own, values.flatten(), strict=True)}

    def take(self, vehicle_id: str, drive_id: str, source: str) -> pa.Table:
        n = self.count
        log_ns = np.array(self.times, np.int64)
        timestamp = pa.timestamp("us", tz="UTC")
        columns = {
            "vehicle_id": _constant(vehicle_id, n),
            "drive_id": _constant(drive_id, n),
            "source_uri": _constant(source, n),
            "topic": pc.dictionary_encode(pa.array(self.topics, pa.string())),
            "log_time": pa.array(log_ns // 1000).cast(timestamp),
            "publish_time": pa.array(np.array(self.publish, np.int64) // 1000).cast(timestamp),
            "log_time_ns": pa.array(log_ns),
            **self.own_columns(),
        }
        self.reset()
        return datafiles.conform(pa.table(columns), self.schema)

    def reset(self) -> None:
        self.values, self.topics, self.times, self.publish, self.bytes = [], [], [], [], 0


class PointCloudRows(TableRows):
    """``point_clouds``: the header columns as values, ``channels`` built from the clouds' typed
    numpy arrays as Arrow list buffers (one copy of the points, no Python per point)."""

    def __init__(self, schema: pa.Schema) -> None:
        super().__init__(schema, curated.point_cloud)
        self.channels: list[list[tuple[str, str, str, np.ndarray]]] = []
        self.own = pa.struct([f for f in self.own if f.name != "channels"])
        self.channels_type = schema.field("channels").type

    def add(self, mtype: Any, message: Any, topic: str, log_time: int, publish_time: int, size: int) -> None:
        self.channels.append(curated.point_cloud_channels(message))
        super().add(mtype, message, topic, log_time, publish_time, size)

    def own_columns(self) -> dict[str, pa.Array]:
        columns = super().own_columns()
        columns["channels"] = _channel_lists(self.channels, self.channels_type)
        return columns

    def reset(self) -> None:
        super().reset()
        self.channels = []


def _channel_lists(clouds: list[list[tuple[str, str, str, np.ndarray]]], kind: pa.DataType) -> pa.Array:
    """``list<struct<name, datatype, ints, longs, floats, doubles>>`` of every cloud: each
    channel fills the one typed list its datatype picks, the others are null."""
    flat = [channel for cloud in clouds for channel in cloud]
    struct = kind.value_type
    children: dict[str, pa.Array] = {
        "name": pa.array([c[0] for c in flat], pa.string()),
        "datatype": pa.array([c[1] for c in flat], pa.string()),
    }
    for slot in curated.CHANNEL_SLOTS:
        slot_type = struct.field(slot).type
        chosen = [c[2] == slot for c in flat]
        lengths = np.array([len(c[3]) if hit else 0 for c, hit in zip(flat, chosen, strict=True)], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        filled = np.empty(int(offsets[-1]), curated.SLOT_DTYPES[slot])
        for channel, start, stop in zip(flat, offsets[:-1].tolist(), offsets[1:].tolist(), strict=True):
            if stop > start:
                filled[start:stop] = channel[3]  # one copy: out of the message, widened
        values = pa.array(filled, type=slot_type.value_type)
        mask = pa.array(np.invert(np.array(chosen, bool)))
        children[slot] = pa.ListArray.from_arrays(pa.array(offsets), values, type=slot_type, mask=mask)
    channels = pa.StructArray.from_arrays([children[f.name] for f in struct], fields=list(struct))
    per_cloud = np.concatenate([[0], np.cumsum([len(cloud) for cloud in clouds])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(per_cloud), channels, type=kind)


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))
