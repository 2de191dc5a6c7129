"""Logs built for tests from real messages: other compressions, encodings and containers than
the shared files have, and broken ones. Nothing here is committed data; tests write to tmp."""

from __future__ import annotations

import json
from pathlib import Path

from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer


def real_messages(mcap: Path) -> list[tuple[object, object, object]]:
    with open(mcap, "rb") as f:
        return list(make_reader(f).iter_messages())


def rewrite_mcap(source: Path, target: Path, compression: CompressionType, chunk_size: int = 1 << 20) -> Path:
    """The same schemas, channels and messages as source, written with another compression."""
    with open(target, "wb") as out:
        writer = Writer(out, compression=compression, chunk_size=chunk_size)
        writer.start("ros2", "drivetrain-tests")
        schemas: dict[int, int] = {}
        channels: dict[int, int] = {}
        for schema, channel, message in real_messages(source):
            if schema.id not in schemas:
                schemas[schema.id] = writer.register_schema(schema.name, schema.encoding, schema.data)
            if channel.id not in channels:
                channels[channel.id] = writer.register_channel(
                    channel.topic, channel.message_encoding, schemas[schema.id]
                )
            writer.add_message(channels[channel.id], message.log_time, message.data, message.publish_time)
        writer.finish()
    return target


POSE_SCHEMA = {
    "type": "object",
    "properties": {
        "x": {"type": "number"},
        "y": {"type": "number"},
        "label": {"type": "string"},
        "flags": {"type": "array", "items": {"type": "boolean"}},
        "pose": {"type": "object", "properties": {"yaw": {"type": "number"}, "frame": {"type": "integer"}}},
    },
}


def json_mcap(target: Path, count: int = 50) -> Path:
    """A Foxglove-style JSON MCAP (jsonschema schemas), lz4 chunks."""
    with open(target, "wb") as out:
        writer = Writer(out, compression=CompressionType.LZ4, chunk_size=4096)
        writer.start("", "drivetrain-tests")
        schema = writer.register_schema("demo.Pose", "jsonschema", json.dumps(POSE_SCHEMA).encode())
        channel = writer.register_channel("/pose", "json", schema)
        for i in range(count):
            body = {
                "x": i * 0.5,
                "y": -i,
                "label": f"p{i}",
                "flags": [i % 2 == 0],
                "pose": {"yaw": 0.1 * i, "frame": i},
            }
            t = 1_700_000_000_000_000_000 + i * 10_000_000
            writer.add_message(channel, t, json.dumps(body).encode(), t)
        writer.finish()
    return target


def mcap_with(
    target: Path, schema_name: str, schema_encoding: str, schema_data: bytes, message_encoding: str
) -> Path:
    with open(target, "wb") as out:
        writer = Writer(out, compression=CompressionType.NONE)
        writer.start("", "drivetrain-tests")
        schema = writer.register_schema(schema_name, schema_encoding, schema_data) if schema_name else 0
        channel = writer.register_channel("/thing", message_encoding, schema)
        for i in range(5):
            writer.add_message(channel, 1_700_000_000_000_000_000 + i, b"\x00\x01\x00\x00" + bytes(8), 0)
        writer.finish()
    return target


def bad_crc_mcap(source: Path, target: Path, chunk_size: int = 1 << 20) -> Path:
    """Uncompressed chunks, one byte inside the first chunk's records flipped: its CRC no longer
    holds (the other chunks stay good)."""
    rewrite_mcap(source, target, CompressionType.NONE, chunk_size)
    with open(target, "rb") as f:
        chunk = make_reader(f).get_summary().chunk_indexes[0]
    data = bytearray(target.read_bytes())
    at = chunk.chunk_start_offset + chunk.chunk_length - 10  # inside the last record's payload
    data[at] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def ros2_sqlite_bag(source_mcap: Path, folder: Path, with_definitions: bool = True) -> Path:
    """A rosbag2 sqlite3 bag (folder with metadata.yaml and <name>.db3) of the same CDR messages,
    written by rosbags. Without definitions it looks like a bag from before ROS 2 Iron."""
    import sqlite3

    from rosbags.rosbag2 import Writer as BagWriter
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    with BagWriter(folder, version=8) as bag:
        connections = {}
        for schema, channel, message in real_messages(source_mcap):
            if channel.id not in connections:
                connections[channel.id] = bag.add_connection(channel.topic, schema.name, typestore=store)
            bag.write(connections[channel.id], message.log_time, message.data)
    db3 = folder / f"{folder.name}.db3"
    if not with_definitions:
        with sqlite3.connect(db3) as db:
            db.execute("DROP TABLE message_definitions")
    return db3
