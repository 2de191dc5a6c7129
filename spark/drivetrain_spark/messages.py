"""Message schemas: from a log's embedded schema to a Spark type, a decoder and a row converter.

A log names each channel's schema (name, encoding, bytes) and message encoding. Supported:

| message encoding | schema encoding       | decoder                                  |
|------------------|-----------------------|------------------------------------------|
| ``cdr``          | ``ros2msg``           | mcap-ros2-support                        |
| ``cdr``          | ``ros2idl``           | rosbags (IDL parser + CDR deserializer)  |
| ``ros1``         | ``ros1msg``           | mcap-ros1-support                        |
| ``protobuf``     | ``protobuf``          | mcap-protobuf-support (FileDescriptorSet)|
| ``json``         | ``jsonschema`` or none| json                                     |

Decoded fields become columns; nested messages become structs, sequences arrays, byte arrays
binary. Integer widths follow Iceberg (no 8/16-bit or unsigned types): 8..32-bit signed and
8/16-bit unsigned -> int, uint32 and int64 -> long, uint64 -> decimal(20,0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DataType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from drivetrain_spark.tables import COMMON_COLUMNS, normalize_type_name


class UnsupportedEncoding(ValueError):
    """Machine-readable reason ``unknown_encoding``."""


class UnknownSchema(ValueError):
    """Machine-readable reason ``unknown_schema``."""


Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Node:
    spark: DataType
    convert: Convert


@dataclass(frozen=True)
class SchemaRef:
    """A schema as a log embeds it. ``data`` is the raw definition."""

    name: str
    encoding: str
    data: bytes
    message_encoding: str

    @property
    def key(self) -> tuple[str, str, bytes, str]:
        return (self.name, self.encoding, self.data, self.message_encoding)


SUPPORTED = {("cdr", "ros2msg"), ("cdr", "ros2idl"), ("ros1", "ros1msg"), ("protobuf", "protobuf")}


def check_supported(ref: SchemaRef) -> None:
    if ref.message_encoding == "json" and ref.encoding in ("jsonschema", ""):
        return
    if (ref.message_encoding, ref.encoding) not in SUPPORTED:
        raise UnsupportedEncoding(
            f"message encoding {ref.message_encoding!r} with schema encoding {ref.encoding!r}"
        )
    if not ref.data:
        raise UnknownSchema(f"schema {ref.name!r} has no definition")


# ----------------------------------------------------------------------------- ROS (msg, idl)

_ROS_INT = IntegerType()
_ROS_BASE: dict[str, tuple[DataType, Convert]] = {
    "bool": (BooleanType(), bool),
    "byte": (_ROS_INT, int),
    "char": (_ROS_INT, int),
    "int8": (_ROS_INT, int),
    "uint8": (_ROS_INT, int),
    "int16": (_ROS_INT, int),
    "uint16": (_ROS_INT, int),
    "int32": (_ROS_INT, int),
    "uint32": (LongType(), int),
    "int64": (LongType(), int),
    "uint64": (DecimalType(20, 0), Decimal),
    "float32": (FloatType(), float),
    "float64": (DoubleType(), float),
    "string": (StringType(), str),
    "wstring": (StringType(), str),
}
_BYTE_TYPES = ("uint8", "byte", "char")
_TIME_TYPES = ("builtin_interfaces/msg/Time", "builtin_interfaces/msg/Duration")
TIME_STRUCT = StructType([StructField("sec", IntegerType()), StructField("nanosec", LongType())])


def _time(value: Any) -> dict[str, int]:
    # ROS 1 (genpy) times have secs/nsecs, ROS 2 and rosbags sec/nanosec.
    if hasattr(value, "secs"):
        return {"sec": value.secs, "nanosec": value.nsecs}
    return {"sec": value.sec, "nanosec": value.nanosec}


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if hasattr(value, "tobytes"):
        return value.tobytes()
    return bytes(value)


def _optional(convert: Convert) -> Convert:
    return lambda v: None if v is None else convert(v)


def _ros_types(ref: SchemaRef) -> tuple[str, dict[str, Any]]:
    from rosbags.typesys import get_types_from_idl, get_types_from_msg

    text = ref.data.decode("utf-8", errors="replace")
    try:
        types = get_types_from_idl(text) if ref.encoding == "ros2idl" else get_types_from_msg(text, ref.name)
    except Exception as err:
        raise UnknownSchema(f"cannot parse {ref.encoding} definition of {ref.name}: {err}") from err
    wanted = normalize_type_name(ref.name)
    for name in types:
        if normalize_type_name(name) == wanted:
            return name, types
    raise UnknownSchema(f"definition of {ref.name} does not define it")


def _ros_node(typename: str, types: dict[str, Any], depth: int = 0) -> Node | None:
    from rosbags.typesys.base import Nodetype

    if typename in _TIME_TYPES:
        return Node(TIME_STRUCT, _optional(_time))
    if typename not in types:
        raise UnknownSchema(f"type {typename} is used but not defined")
    if depth > 32:
        raise UnknownSchema(f"type {typename} nests too deeply")
    fields: list[StructField] = []
    getters: list[tuple[str, str, Convert]] = []
    for fname, (kind, desc) in types[typename][1]:
        node = _ros_field(kind, desc, types, depth, Nodetype)
        if node is None:  # an empty message (constants only) carries no data
            continue
        fields.append(StructField(fname, node.spark, True))
        getters.append((fname, fname, node.convert))
    if not fields:
        return None

    def convert(value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        return {out: conv(getattr(value, attr)) for out, attr, conv in getters}

    return Node(StructType(fields), convert)


def _ros_field(kind: Any, desc: Any, types: dict[str, Any], depth: int, nodetype: Any) -> Node | None:
    if kind == nodetype.BASE:
        spark, conv = _ROS_BASE[desc[0]]
        return Node(spark, _optional(conv))
    if kind == nodetype.NAME:
        return _ros_node(desc, types, depth + 1)
    (inner_kind, inner_desc), _size = desc
    if inner_kind == nodetype.BASE and inner_desc[0] in _BYTE_TYPES:
        return Node(BinaryType(), _optional(_to_bytes))
    inner = _ros_field(inner_kind, inner_desc, types, depth, nodetype)
    if inner is None:
        return None
    element = inner.convert
    return Node(ArrayType(inner.spark, True), lambda v: None if v is None else [element(x) for x in v])


# ----------------------------------------------------------------------------- protobuf


def _protobuf_descriptor(ref: SchemaRef) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool

    try:
        fds = descriptor_pb2.FileDescriptorSet.FromString(ref.data)
        pool = descriptor_pool.DescriptorPool()
        pending = list(fds.file)
        while pending:  # add files after their dependencies
            added = [f for f in pending if all(_pool_has(pool, d) for d in f.dependency)]
            if not added:
                raise UnknownSchema(f"protobuf schema {ref.name} has unresolved imports")
            for f in added:
                pool.Add(f)
                pending.remove(f)
        return pool.FindMessageTypeByName(ref.name)
    except UnknownSchema:
        raise
    except Exception as err:
        raise UnknownSchema(f"cannot load protobuf schema {ref.name}: {err}") from err


def _pool_has(pool: Any, filename: str) -> bool:
    try:
        pool.FindFileByName(filename)
        return True
    except KeyError:
        return False


def _protobuf_scalars() -> dict[int, tuple[DataType, Convert]]:
    from google.protobuf.descriptor import FieldDescriptor as F

    return {
        F.TYPE_DOUBLE: (DoubleType(), float),
        F.TYPE_FLOAT: (FloatType(), float),
        F.TYPE_INT64: (LongType(), int),
        F.TYPE_SINT64: (LongType(), int),
        F.TYPE_SFIXED64: (LongType(), int),
        F.TYPE_UINT64: (DecimalType(20, 0), Decimal),
        F.TYPE_FIXED64: (DecimalType(20, 0), Decimal),
        F.TYPE_INT32: (IntegerType(), int),
        F.TYPE_SINT32: (IntegerType(), int),
        F.TYPE_SFIXED32: (IntegerType(), int),
        F.TYPE_UINT32: (LongType(), int),
        F.TYPE_FIXED32: (LongType(), int),
        F.TYPE_BOOL: (BooleanType(), bool),
        F.TYPE_STRING: (StringType(), str),
        F.TYPE_BYTES: (BinaryType(), bytes),
    }


def _protobuf_value_node(field: Any, seen: tuple[str, ...]) -> Node:
    from google.protobuf.descriptor import FieldDescriptor as F

    if field.type == F.TYPE_MESSAGE:
        return _protobuf_node(field.message_type, seen)
    if field.type == F.TYPE_ENUM:
        values = {v.number: v.name for v in field.enum_type.values}
        return Node(StringType(), lambda v: values.get(v, str(v)))
    spark, conv = _protobuf_scalars()[field.type]
    return Node(spark, conv)


def _protobuf_field(field: Any, seen: tuple[str, ...]) -> tuple[DataType, Callable[[Any, str], Any]]:
    """Spark type of one field and how to read it from its message."""
    from google.protobuf.descriptor import FieldDescriptor as F

    repeated = field.is_repeated
    if repeated and field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
        entry = field.message_type
        key = _protobuf_value_node(entry.fields_by_name["key"], seen)
        value = _protobuf_value_node(entry.fields_by_name["value"], seen)
        pair = StructType([StructField("key", key.spark), StructField("value", value.spark)])

        def read_map(m: Any, n: str) -> list[dict[str, Any]]:
            return [{"key": key.convert(k), "value": value.convert(v)} for k, v in getattr(m, n).items()]

        return ArrayType(pair, True), read_map
    node = _protobuf_value_node(field, seen)
    if repeated:
        return ArrayType(node.spark, True), lambda m, n: [node.convert(v) for v in getattr(m, n)]
    if getattr(field, "has_presence", False):
        return node.spark, lambda m, n: node.convert(getattr(m, n)) if m.HasField(n) else None
    return node.spark, lambda m, n: node.convert(getattr(m, n))


def _protobuf_node(descriptor: Any, seen: tuple[str, ...] = ()) -> Node:
    if descriptor.full_name in seen:  # recursive messages are kept as JSON text
        from google.protobuf.json_format import MessageToJson

        return Node(StringType(), _optional(lambda m: MessageToJson(m, indent=None)))
    inner = (*seen, descriptor.full_name)
    readers = [(f.name, *_protobuf_field(f, inner)) for f in descriptor.fields]
    struct = StructType([StructField(name, spark, True) for name, spark, _ in readers])

    def convert(message: Any) -> dict[str, Any] | None:
        if message is None:
            return None
        return {name: read(message, name) for name, _, read in readers}

    return Node(struct, convert)


# ----------------------------------------------------------------------------- JSON schema


def _json_node(schema: Any, depth: int = 0) -> Node:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind == "object" and isinstance(schema.get("properties"), dict) and depth < 32:
        props = schema["properties"]
        nodes = {key: _json_node(sub, depth + 1) for key, sub in props.items()}
        names = {key: _safe_name(key) for key in props}
        struct = StructType([StructField(names[k], n.spark, True) for k, n in nodes.items()])
        if not struct.fields:
            return Node(StringType(), _optional(json.dumps))

        def convert(value: Any) -> dict[str, Any] | None:
            if not isinstance(value, dict):
                return None
            return {names[k]: n.convert(value.get(k)) for k, n in nodes.items()}

        return Node(struct, convert)
    if kind == "array" and isinstance(schema.get("items"), dict):
        inner = _json_node(schema["items"], depth + 1)
        return Node(
            ArrayType(inner.spark, True),
            lambda v: [inner.convert(x) for x in v] if isinstance(v, list) else None,
        )
    scalar = {
        "string": (StringType(), lambda v: v if isinstance(v, str) else None),
        "integer": (LongType(), lambda v: int(v) if isinstance(v, int | float) else None),
        "number": (DoubleType(), lambda v: float(v) if isinstance(v, int | float) else None),
        "boolean": (BooleanType(), lambda v: v if isinstance(v, bool) else None),
    }
    if kind in scalar:
        spark, conv = scalar[kind]
        return Node(spark, conv)
    return Node(StringType(), lambda v: None if v is None else json.dumps(v))


def _safe_name(key: str) -> str:
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in key)
    return name or "_"


# ----------------------------------------------------------------------------- the type


@dataclass
class MessageType:
    """Everything needed to turn a channel's messages into rows of its table."""

    ref: SchemaRef
    root: Node
    decode: Callable[[bytes], Any]

    @property
    def fields(self) -> StructType:
        return _top_level(self.root.spark)

    def row(self, message: Any) -> dict[str, Any]:
        value = self.root.convert(message)
        return _rename_top(value) if isinstance(value, dict) else {"value": value}


def _top_level(spark: DataType) -> StructType:
    if not isinstance(spark, StructType):
        return StructType([StructField("value", spark, True)])
    return StructType([StructField(_column(f.name), f.dataType, True) for f in spark.fields])


def _column(name: str) -> str:
    return f"field_{name}" if name in COMMON_COLUMNS else name


def _rename_top(row: dict[str, Any]) -> dict[str, Any]:
    return {_column(k): v for k, v in row.items()}


def load(ref: SchemaRef) -> MessageType:
    """Parses the schema and builds its decoder. Raises UnsupportedEncoding or UnknownSchema."""
    check_supported(ref)
    if ref.message_encoding == "json":
        schema = json.loads(ref.data) if ref.data else {}
        root = _json_node(schema) if schema else Node(StringType(), _optional(json.dumps))
        return MessageType(ref, root, json.loads)
    if ref.message_encoding == "protobuf":
        descriptor = _protobuf_descriptor(ref)
        from google.protobuf import message_factory

        cls = message_factory.GetMessageClass(descriptor)
        return MessageType(ref, _protobuf_node(descriptor), cls.FromString)
    name, types = _ros_types(ref)
    root = _ros_node(name, types)
    if root is None:
        root = Node(StructType([]), lambda _v: {})
    return MessageType(ref, root, _ros_decoder(ref, name, types))


def _ros_decoder(ref: SchemaRef, name: str, types: dict[str, Any]) -> Callable[[bytes], Any]:
    from mcap.records import Schema

    schema = Schema(id=1, name=ref.name, encoding=ref.encoding, data=ref.data)
    if ref.encoding == "ros1msg":
        from mcap_ros1.decoder import DecoderFactory as Ros1Decoders

        decoder = Ros1Decoders().decoder_for("ros1", schema)
    elif ref.encoding == "ros2msg":
        from mcap_ros2.decoder import DecoderFactory as Ros2Decoders

        decoder = Ros2Decoders().decoder_for("cdr", schema)
    else:
        from rosbags.typesys import Stores, get_typestore

        store = get_typestore(Stores.EMPTY)
        store.register(types)
        return lambda data: store.deserialize_cdr(data, name)
    if decoder is None:
        raise UnknownSchema(f"no decoder for {ref.name}")
    return decoder


def merge_struct(a: StructType, b: StructType) -> StructType:
    """Union of two versions of a message's fields (a later version may add fields).
    Raises TypeError when a field changed type incompatibly."""
    by_name = {f.name: f for f in a.fields}
    merged = list(a.fields)
    for field in b.fields:
        old = by_name.get(field.name)
        if old is None:
            merged.append(field)
            continue
        merged[merged.index(old)] = StructField(field.name, _merge_type(old.dataType, field.dataType), True)
    return StructType(merged)


def _merge_type(a: DataType, b: DataType) -> DataType:
    if a == b:
        return a
    if isinstance(a, StructType) and isinstance(b, StructType):
        return merge_struct(a, b)
    if isinstance(a, ArrayType) and isinstance(b, ArrayType):
        return ArrayType(_merge_type(a.elementType, b.elementType), True)
    widen = {(IntegerType(), LongType()): LongType(), (FloatType(), DoubleType()): DoubleType()}
    for (x, y), wide in widen.items():
        if (a, b) in ((x, y), (y, x)):
            return wide
    raise TypeError(f"field type changed from {a.simpleString()} to {b.simpleString()}")
