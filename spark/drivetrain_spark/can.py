"""CAN: raw frames plus a DBC become decoded signals, vectorised per message id.

Raw CAN objects are ``<name>.can.parquet`` with one row per frame:

| column    | type                                              |
|-----------|---------------------------------------------------|
| ``t``     | timestamp[ns, UTC] or int64 ns since the Unix epoch (float64 seconds also accepted) |
| ``address`` | integer arbitration id                          |
| ``data``  | binary payload (up to 64 bytes, CAN FD)           |
| ``bus``   | integer bus number                                |

``python -m drivetrain_spark.can convert <comma2k19 segment> <out.can.parquet>`` writes one
from comma2k19's ``raw_can`` arrays (boot-time seconds moved to UTC through the segment's
GPS-timed camera frames).

Decoding groups a row group's frames by address (one argsort) and decodes every signal of a
message for all of its frames at once: each signal is read as one 64-bit window per frame
(numpy byte views, shifts and masks), scaled and offset as the DBC says. No Python runs per
frame. The DBC's ``CM_ "IMPORT <file>"`` lines (opendbc's convention) are loaded first, in
order, and the importing file's own definitions override them. Frames of ids the DBC lacks
are counted per object, bus and id (``can_unknown_ids``), as are frames shorter than their
message's DBC length (reason ``short_frame``), so nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from drivetrain_spark import objects, sources
from drivetrain_spark.tables import CAN_UNKNOWN_IDS

ROWS_PER_UNIT = 4_000_000
OUT_ROWS = 1 << 18
IMPORT = re.compile(r'^\s*CM_\s+"IMPORT\s+([^"]+?)"\s*;', re.MULTILINE)
REQUIRED = ("t", "address", "data", "bus")


# ----------------------------------------------------------------------------- DBC


def load_dbc(uri: str) -> Any:
    """A cantools database with the DBC's IMPORTs followed (relative to the DBC)."""
    import cantools

    database = cantools.database.Database(strict=False)
    for text in _dbc_texts(uri, ()):
        database.add_dbc_string(text)
    return database


def _dbc_texts(uri: str, seen: tuple[str, ...]) -> list[str]:
    if uri in seen:
        raise ValueError(f"DBC import cycle through {uri}")
    text = objects.read_bytes(uri).decode("utf-8", errors="replace")
    base = uri.rsplit("/", 1)[0]
    texts: list[str] = []
    for name in IMPORT.findall(text):
        texts += _dbc_texts(f"{base}/{name}", (*seen, uri))
    return [*texts, IMPORT.sub("", text)]


@dataclass(frozen=True)
class SignalPlan:
    name: str
    unit: str
    byte: int  # first byte of the 8-byte window that holds the signal
    big_endian: bool
    shift: int
    mask: int
    length: int
    signed: bool
    is_float: bool
    scale: float
    offset: float
    mux: tuple[str, frozenset[int]] | None


@dataclass(frozen=True)
class MessagePlan:
    frame_id: int
    name: str
    length: int
    signals: tuple[SignalPlan, ...]


def _signal_plan(signal: Any) -> SignalPlan:
    if signal.byte_order == "big_endian":
        # DBC start bit of a Motorola signal is its MSB in "sawtooth" numbering.
        msb = (signal.start // 8) * 8 + (7 - signal.start % 8)  # bit index counted from byte 0's MSB
        byte = msb // 8
        shift = 63 - (msb - byte * 8 + signal.length - 1)
    else:
        byte = signal.start // 8
        shift = signal.start % 8
    if shift < 0 or shift + signal.length > 64:
        raise ValueError(f"signal {signal.name} does not fit a 64-bit window")
    mux = None
    if signal.multiplexer_ids:
        mux = (signal.multiplexer_signal, frozenset(signal.multiplexer_ids))
    return SignalPlan(
        signal.name,
        signal.unit or "",
        byte,
        signal.byte_order == "big_endian",
        shift,
        (1 << signal.length) - 1,
        signal.length,
        bool(signal.is_signed),
        bool(signal.is_float),
        float(signal.scale),
        float(signal.offset),
        mux,
    )


@functools.lru_cache(maxsize=8)
def compile_dbc(uri: str, wanted: tuple[str, ...] | None) -> dict[int, MessagePlan]:
    database = load_dbc(uri)
    plans: dict[int, MessagePlan] = {}
    for message in database.messages:
        signals = tuple(
            _signal_plan(s) for s in message.signals if wanted is None or f"{message.name}.{s.name}" in wanted
        )
        plans[message.frame_id] = MessagePlan(message.frame_id, message.name, message.length, signals)
    return plans


# ----------------------------------------------------------------------------- decoding


def frames_matrix(data: pa.BinaryArray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Payloads as an (n, width) uint8 matrix, zero padded, and each payload's length."""
    data = data.cast(pa.binary()) if data.type != pa.binary() else data
    offsets = np.frombuffer(data.buffers()[1], dtype=np.int32, count=len(data) + 1, offset=data.offset * 4)
    values = np.frombuffer(data.buffers()[2], dtype=np.uint8) if data.buffers()[2] else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    n = len(data)
    if n and (lengths == 8).all() and width >= 8:
        matrix = np.zeros((n, width), dtype=np.uint8)
        matrix[:, :8] = values[offsets[0] : offsets[0] + 8 * n].reshape(n, 8)
        return matrix, lengths
    longest = int(lengths.max()) if n else 0
    index = offsets[:-1, None] + np.arange(longest)
    valid = np.arange(longest) < lengths[:, None]
    matrix = np.zeros((n, max(width, longest + 8)), dtype=np.uint8)
    matrix[:, :longest] = np.where(valid, values[np.minimum(index, max(len(values) - 1, 0))], 0)
    return matrix, lengths


def decode_signal(matrix: np.ndarray, signal: SignalPlan) -> np.ndarray:
    window = np.ascontiguousarray(matrix[:, signal.byte : signal.byte + 8])
    words = window.view(">u8" if signal.big_endian else "<u8").ravel()
    raw = (words >> np.uint64(signal.shift)) & np.uint64(signal.mask)
    if signal.is_float:
        physical = raw.astype(np.uint32).view(np.float32) if signal.length == 32 else raw.view(np.float64)
        return physical.astype(np.float64) * signal.scale + signal.offset
    if signal.signed:
        values = raw.astype(np.int64)
        sign = np.int64(1) << np.int64(signal.length - 1)
        values = np.where(values & sign, values - (sign << np.int64(1)), values)
        return values.astype(np.float64) * signal.scale + signal.offset
    return raw.astype(np.float64) * signal.scale + signal.offset


def time_ns(column: pa.Array) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    if pa.types.is_floating(column.type):
        return np.round(column.to_numpy(zero_copy_only=False) * 1e9).astype(np.int64)
    return column.cast(pa.int64()).to_numpy(zero_copy_only=False)


def decode_frames(
    frames: pa.Table, messages: dict[int, MessagePlan]
) -> tuple[list[dict[str, Any]], dict[tuple[int, int, str], list]]:
    """Column blocks of decoded signals, and unknown/short frame counts per (bus, id, reason)."""
    t = time_ns(frames.column("t").combine_chunks())
    address = frames.column("address").combine_chunks().cast(pa.int64()).to_numpy(zero_copy_only=False)
    bus = frames.column("bus").combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
    matrix, lengths = frames_matrix(frames.column("data").combine_chunks(), 16)
    order = _address_order(address)
    ids, starts, counts = _runs(address[order])
    blocks: list[dict[str, Any]] = []
    unknown: dict[tuple[int, int, str], list] = {}
    for frame_id, start, count in zip(ids.tolist(), starts.tolist(), counts.tolist(), strict=True):
        rows = order[start : start + count]
        message = messages.get(frame_id)
        if message is None:
            _count(unknown, t[rows], bus[rows], frame_id, "unknown_id")
            continue
        short = lengths[rows] < min(message.length, 8) if message.length else np.zeros(len(rows), bool)
        if short.any():
            _count(unknown, t[rows[short]], bus[rows[short]], frame_id, "short_frame")
            rows = rows[~short]
        if not len(rows) or not message.signals:
            continue
        sub = matrix[rows]
        t_rows, bus_rows = t[rows], bus[rows]  # gathered once per message, not per signal
        values = {s.name: decode_signal(sub, s) for s in message.signals}
        raws = {s.name: v for s, v in zip(message.signals, values.values(), strict=True)}
        for signal in message.signals:
            keep = slice(None)
            if signal.mux is not None:
                selector, accepted = signal.mux
                mux_signal = next(s for s in message.signals if s.name == selector)
                mux_raw = (raws[selector] - mux_signal.offset) / mux_signal.scale
                keep = np.isin(np.round(mux_raw).astype(np.int64), list(accepted))
            blocks.append(
                {
                    "t_ns": t_rows[keep],
                    "bus": bus_rows[keep],
                    "address": frame_id,
                    "message": message.name,
                    "signal": signal.name,
                    "value": values[signal.name][keep],
                    "unit": signal.unit,
                }
            )
    return blocks, unknown


def _address_order(address: np.ndarray) -> np.ndarray:
    """Frames grouped by id, in arrival order within an id (a stable sort). Standard 11-bit ids
    sort as 16-bit keys, which numpy radix-sorts in two passes instead of merge-sorting."""
    if len(address) and int(address.min()) >= 0 and int(address.max()) < 1 << 16:
        return np.argsort(address.astype(np.uint16), kind="stable")
    return np.argsort(address, kind="stable")


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct value of a sorted array, where its run starts and how long it is (what
    ``np.unique`` returns, without sorting again)."""
    starts = np.flatnonzero(np.concatenate([[len(ordered) > 0], ordered[1:] != ordered[:-1]]))
    counts = np.diff(np.append(starts, len(ordered)))
    return ordered[starts], starts, counts


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of small integers (bus numbers) by counting."""
    if not len(values) or int(values.max()) - int(values.min()) >= 1 << 16:
        return np.unique(values, return_inverse=True)
    low = int(values.min())
    present = np.bincount(values - low) > 0
    return np.flatnonzero(present) + low, (np.cumsum(present) - 1)[values - low]


def _count(unknown: dict, t: np.ndarray, bus: np.ndarray, frame_id: int, reason: str) -> None:
    for b in np.unique(bus).tolist():
        sel = t[bus == b]
        key = (int(b), frame_id, reason)
        old = unknown.get(key)
        n, lo, hi = len(sel), int(sel.min()), int(sel.max())
        unknown[key] = [n, lo, hi] if old is None else [old[0] + n, min(old[1], lo), max(old[2], hi)]


# ----------------------------------------------------------------------------- the job's side


def plan(uri: str, size: int) -> sources.FilePlan:
    """Units are runs of whole row groups of about ROWS_PER_UNIT frames."""
    filesystem, path = objects.resolve(uri)
    try:
        with filesystem.open_input_file(path) as f:
            meta = pq.ParquetFile(f).metadata
            names = set(meta.schema.names)
    except Exception as err:
        raise sources.Rejected("garbage", f"not a Parquet file: {err}") from err
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise sources.Rejected("unknown_schema", f"raw CAN Parquet lacks columns {missing}")
    result = sources.FilePlan(uri, "can", size)
    first, rows = 0, 0
    for i in range(meta.num_row_groups):
        rows += meta.row_group(i).num_rows
        if rows >= ROWS_PER_UNIT or i + 1 == meta.num_row_groups:
            result.units.append(sources.Unit(uri, "can", len(result.units), first, i + 1 - first))
            first, rows = i + 1, 0
    return result


def write_unit(unit: sources.Unit, job_plan: Any, target: Any) -> dict[str, Any]:
    """The direct path's work for one unit (see ``decode.write_units``): its signals decoded and
    written straight to ``can_signals`` data files. Returns the files written and the unit's
    unknown-id rows (``extra``), or the error that rejects the object."""
    from drivetrain_spark import datafiles

    unknown_rows: list[dict[str, Any]] = []

    def tables() -> Iterator[tuple[str, pa.Table]]:
        blocks, unknown, common = _decode_unit_frames(unit, job_plan)
        if unknown:
            unknown_rows.extend(_unknown_rows(unknown, common).to_pylist())
        for table in signal_tables(blocks, common):
            yield "can_signals", table

    result = datafiles.write_unit(unit.uri, tables(), {"can_signals": target})
    if "files" in result:
        result["extra"] = unknown_rows
    return result


def _decode_unit_frames(unit: sources.Unit, job_plan: Any) -> tuple[list, dict, dict[str, str]]:
    options = job_plan.can
    if not options.get("dbc"):
        raise sources.Rejected("unknown_schema", "a .can.parquet input needs a DBC (config key dbc)")
    wanted = tuple(sorted(options["signals"])) if options.get("signals") else None
    messages = compile_dbc(options["dbc"], wanted)
    entry = job_plan.files[unit.uri]
    filesystem, path = objects.resolve(unit.uri)
    with filesystem.open_input_file(path) as f:
        groups = list(range(unit.offset, unit.offset + unit.length))
        frames = pq.ParquetFile(f).read_row_groups(groups, columns=list(REQUIRED))
    blocks, unknown = decode_frames(frames, messages)
    common = {"vehicle_id": entry.vehicle_id, "drive_id": entry.drive_id, "source_uri": unit.uri}
    return blocks, unknown, common


def signal_tables(blocks: list[dict[str, Any]], common: dict[str, str]) -> Iterator[pa.Table]:
    """Decoded blocks as tables of about OUT_ROWS signal rows."""
    pending: list[dict[str, Any]] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += len(block["t_ns"])
        if size >= OUT_ROWS:
            yield signal_table(pending, common)
            pending, size = [], 0
    if pending:
        yield signal_table(pending, common)


def signal_table(blocks: list[dict[str, Any]], common: dict[str, str]) -> pa.Table:
    """Signal rows as a table; repeated strings stay dictionary-encoded (Parquet writes their
    pages directly, and the checksum hashes each distinct value once)."""
    t_ns = np.concatenate([b["t_ns"] for b in blocks])
    n = len(t_ns)
    bus = np.concatenate([b["bus"] for b in blocks]).astype(np.int32)
    sizes = [len(b["t_ns"]) for b in blocks]
    block_index = pa.array(np.repeat(np.arange(len(blocks), dtype=np.int32), sizes))

    def per_block(key: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(block_index, pa.array([b[key] for b in blocks], pa.string()))

    def constant(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))

    buses, bus_index = _codes(bus)
    topic = pa.DictionaryArray.from_arrays(
        pa.array(bus_index.astype(np.int32)), pa.array([f"can{b}" for b in buses.tolist()])
    )
    micros = pa.array(t_ns // 1000, type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    columns = {
        "vehicle_id": constant(common["vehicle_id"]),
        "drive_id": constant(common["drive_id"]),
        "source_uri": constant(common["source_uri"]),
        "topic": topic,
        "log_time": micros,
        "publish_time": micros,
        "log_time_ns": pa.array(t_ns, type=pa.int64()),
        "t": pa.array(t_ns / 1e9, type=pa.float64()),
        "bus": pa.array(bus, type=pa.int32()),
        "address": pa.array(np.repeat(np.array([b["address"] for b in blocks], dtype=np.int64), sizes)),
        "message": per_block("message"),
        "signal": per_block("signal"),
        "value": pa.array(np.concatenate([b["value"] for b in blocks]), type=pa.float64()),
        "unit": per_block("unit"),
    }
    return pa.table(columns)


def _unknown_rows(unknown: dict[tuple[int, int, str], list], common: dict[str, str]) -> pa.StructArray:
    rows = []
    for (bus, frame_id, reason), (n, lo, hi) in sorted(unknown.items()):
        rows.append(
            {
                **common,
                "topic": f"can{bus}",
                "log_time": lo // 1000,
                "publish_time": lo // 1000,
                "log_time_ns": lo,
                "bus": bus,
                "address": frame_id,
                "reason": reason,
                "frames": n,
                "first_t": lo / 1e9,
                "last_t": hi / 1e9,
            }
        )
    from pyspark.sql.pandas.types import to_arrow_type

    return pa.array(rows, type=to_arrow_type(CAN_UNKNOWN_IDS.schema))


def combine_unknown(rows: Any) -> Any:
    """One row per object, bus, id and reason (units of one object are counted apart)."""
    from pyspark.sql import functions as F

    keys = ["vehicle_id", "drive_id", "source_uri", "topic", "bus", "address", "reason"]
    return (
        rows.groupBy(*keys)
        .agg(
            F.min("log_time").alias("log_time"),
            F.min("publish_time").alias("publish_time"),
            F.min("log_time_ns").alias("log_time_ns"),
            F.sum("frames").alias("frames"),
            F.min("first_t").alias("first_t"),
            F.max("last_t").alias("last_t"),
        )
        .select(*[f.name for f in CAN_UNKNOWN_IDS.schema.fields])
    )


# ----------------------------------------------------------------------------- comma2k19

GPS_EPOCH_NS = 315_964_800 * 1_000_000_000  # 1980-01-06T00:00:00Z
GPS_UTC_LEAP_S = 18  # GPS - UTC since 2017-01-01


def comma2k19_frames(segment: str) -> tuple[pa.Table, int]:
    """comma2k19 raw_can arrays as raw CAN frames; t moved from boot time to UTC via the
    camera frames' (boot time, GPS week + seconds) pairs. Returns the table and the offset."""
    base = segment.rstrip("/")
    raw = f"{base}/processed_log/CAN/raw_can"
    boot = np.load(f"{base}/global_pose/frame_times.npy")
    gps = np.load(f"{base}/global_pose/frame_gps_times.npy")
    gps_s = gps[:, 0] * 7 * 86400 + gps[:, 1] - GPS_UTC_LEAP_S
    offset_ns = round(float(np.median(gps_s - boot)) * 1e9) + GPS_EPOCH_NS
    t_boot = np.load(f"{raw}/t.npy")
    data = np.load(f"{raw}/data.npy")
    payload = np.ascontiguousarray(data).view(np.uint8).reshape(len(data), data.dtype.itemsize)
    offsets = np.arange(0, payload.size + 1, payload.shape[1], dtype=np.int32)
    utc_ns = pa.timestamp("ns", tz="UTC")
    table = pa.table(
        {
            "t": pa.array(np.round(t_boot * 1e9).astype(np.int64) + offset_ns).cast(utc_ns),
            "address": pa.array(np.load(f"{raw}/address.npy").astype(np.int64)),
            "data": pa.BinaryArray.from_buffers(
                pa.binary(), len(payload), [None, pa.py_buffer(offsets), pa.py_buffer(payload.tobytes())]
            ),
            "bus": pa.array(np.load(f"{raw}/src.npy").astype(np.int32)),
        }
    )
    return table.replace_schema_metadata({"drivetrain.boot_offset_ns": str(offset_ns)}), offset_ns


def write_frames(table: pa.Table, uri: str, row_group_size: int = 1 << 20) -> None:
    filesystem, path = objects.resolve(uri)
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    pq.write_table(table, path, filesystem=filesystem, row_group_size=row_group_size, compression="zstd")


def _main() -> None:
    parser = argparse.ArgumentParser(prog="drivetrain_spark.can")
    sub = parser.add_subparsers(dest="command", required=True)
    convert = sub.add_parser("convert", help="comma2k19 segment -> .can.parquet")
    convert.add_argument("segment")
    convert.add_argument("out")
    args = parser.parse_args()
    table, offset = comma2k19_frames(args.segment)
    write_frames(table, args.out)
    print(f"{table.num_rows} frames, boot time + {offset} ns = UTC, written to {args.out}")


if __name__ == "__main__":
    _main()
