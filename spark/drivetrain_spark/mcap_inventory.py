"""Inventory of an MCAP log: what a raw drive log holds before any message is decoded.

The ETL uses it to plan work (which topics, how many messages, what time span) and to
catch truncated uploads early: it reads the summary section when the writer produced one
and falls back to a full scan when it did not (a log cut off mid-recording has none).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader


@dataclass(frozen=True)
class TopicInventory:
    topic: str
    schema_name: str
    message_encoding: str
    message_count: int


@dataclass(frozen=True)
class McapInventory:
    profile: str
    start_ns: int
    end_ns: int
    topics: tuple[TopicInventory, ...] = field(default_factory=tuple)
    from_summary: bool = True

    @property
    def message_count(self) -> int:
        return sum(t.message_count for t in self.topics)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def inventory(path: str | Path) -> McapInventory:
    with open(path, "rb") as stream:
        return inventory_stream(stream)


def inventory_stream(stream: BinaryIO) -> McapInventory:
    try:
        reader = make_reader(stream)
        profile = reader.get_header().profile
    except McapError:
        return McapInventory(profile="", start_ns=0, end_ns=0, from_summary=False)  # not even a header
    try:
        summary = reader.get_summary()
    except McapError:
        summary = None  # no valid footer: the log was cut off
    if summary is not None and summary.statistics is not None:
        stats = summary.statistics
        counts = stats.channel_message_counts
        topics = [
            TopicInventory(
                topic=channel.topic,
                schema_name=summary.schemas[channel.schema_id].name if channel.schema_id else "",
                message_encoding=channel.message_encoding,
                message_count=counts.get(channel_id, 0),
            )
            for channel_id, channel in summary.channels.items()
        ]
        return McapInventory(profile, stats.message_start_time, stats.message_end_time, _sorted(topics))

    stream.seek(0)
    return _scan(stream, profile)


def _scan(stream: BinaryIO, profile: str) -> McapInventory:
    """Reads records in order until the log ends or breaks off (a torn last record)."""
    counts: dict[int, int] = {}
    channels: dict[int, Channel] = {}
    schemas: dict[int, str] = {}
    start: int | None = None
    end: int | None = None
    try:
        for record in StreamReader(stream, skip_magic=False).records:
            if isinstance(record, Schema):
                schemas[record.id] = record.name
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                counts[record.channel_id] = counts.get(record.channel_id, 0) + 1
                start = record.log_time if start is None else min(start, record.log_time)
                end = record.log_time if end is None else max(end, record.log_time)
    except (McapError, EOFError, ValueError, struct.error):
        pass  # keep everything read before the break
    topics = [
        TopicInventory(ch.topic, schemas.get(ch.schema_id, ""), ch.message_encoding, counts.get(cid, 0))
        for cid, ch in channels.items()
    ]
    return McapInventory(profile, start or 0, end or 0, _sorted(topics), from_summary=False)


def _sorted(topics: list[TopicInventory]) -> tuple[TopicInventory, ...]:
    return tuple(sorted(topics, key=lambda t: t.topic))
