"""The curated tables: their names, schemas and partitioning. One module, so the ETL job, the
feature views and the docs agree on what a row is.

Every row carries the common columns: where it came from (vehicle, drive, object, topic) and
when it was logged. Every table is partitioned by ``vehicle_id`` and ``days(log_time)``.
Message types without a curated table get one table each (``msg_<package>_<type>``) whose
columns are the decoded fields, nested messages as structs (see ``messages.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# Bumped when a curated schema changes incompatibly; recorded in every run manifest.
SCHEMA_VERSION = 1

# Always set by the job; declared nullable because Arrow batches and staged Parquet carry no
# nullability, and Iceberg then accepts schema evolution without required-field checks.
COMMON_FIELDS: tuple[StructField, ...] = (
    StructField("vehicle_id", StringType(), True),
    StructField("drive_id", StringType(), True),
    StructField("source_uri", StringType(), True),
    StructField("topic", StringType(), True),
    StructField("log_time", TimestampType(), True),
    StructField("publish_time", TimestampType(), True),
    StructField("log_time_ns", LongType(), True),
)
COMMON_COLUMNS = tuple(f.name for f in COMMON_FIELDS)

# Spark (and Iceberg) partition transforms of every table.
PARTITION_COLUMNS = ("vehicle_id", "log_time")
PARTITION_SQL = "vehicle_id, days(log_time)"


def _struct(*fields: tuple[str, object]) -> StructType:
    return StructType([StructField(name, dtype, True) for name, dtype in fields])


VECTOR3 = _struct(("x", DoubleType()), ("y", DoubleType()), ("z", DoubleType()))
QUATERNION = _struct(("x", DoubleType()), ("y", DoubleType()), ("z", DoubleType()), ("w", DoubleType()))
COVARIANCE = ArrayType(DoubleType(), True)
_HEADER = (("frame_id", StringType()), ("header_time_ns", LongType()))

POINT_FIELD = _struct(
    ("name", StringType()), ("offset", IntegerType()), ("datatype", StringType()), ("count", IntegerType())
)
# One typed array per PointCloud2 field: exactly one of the arrays is set, chosen by datatype
# (int8..int32 -> ints, uint32 -> longs, float32 -> floats, float64 -> doubles; Iceberg has
# no 8/16-bit or unsigned types). A field with count > 1 holds count values per point.
POINT_CHANNEL = _struct(
    ("name", StringType()),
    ("datatype", StringType()),
    ("ints", ArrayType(IntegerType(), True)),
    ("longs", ArrayType(LongType(), True)),
    ("floats", ArrayType(FloatType(), True)),
    ("doubles", ArrayType(DoubleType(), True)),
)


@dataclass(frozen=True)
class Table:
    name: str
    fields: StructType
    description: str

    @property
    def schema(self) -> StructType:
        return StructType([*COMMON_FIELDS, *self.fields.fields])


IMU = Table(
    "imu",
    _struct(
        *_HEADER,
        ("orientation", QUATERNION),
        ("orientation_covariance", COVARIANCE),
        ("angular_velocity", VECTOR3),
        ("angular_velocity_covariance", COVARIANCE),
        ("linear_acceleration", VECTOR3),
        ("linear_acceleration_covariance", COVARIANCE),
    ),
    "sensor_msgs/Imu: orientation, angular velocity (rad/s), linear acceleration (m/s^2)",
)
GNSS = Table(
    "gnss",
    _struct(
        *_HEADER,
        ("status", IntegerType()),
        ("service", IntegerType()),
        ("latitude", DoubleType()),
        ("longitude", DoubleType()),
        ("altitude", DoubleType()),
        ("position_covariance", COVARIANCE),
        ("position_covariance_type", IntegerType()),
    ),
    "sensor_msgs/NavSatFix: WGS84 fix, status and covariance",
)
ODOMETRY = Table(
    "odometry",
    _struct(
        *_HEADER,
        ("child_frame_id", StringType()),
        ("position", VECTOR3),
        ("orientation", QUATERNION),
        ("pose_covariance", COVARIANCE),
        ("linear_velocity", VECTOR3),
        ("angular_velocity", VECTOR3),
        ("twist_covariance", COVARIANCE),
    ),
    "nav_msgs/Odometry: pose and twist",
)
POINT_CLOUDS = Table(
    "point_clouds",
    _struct(
        *_HEADER,
        ("height", LongType()),
        ("width", LongType()),
        ("point_count", LongType()),
        ("point_step", LongType()),
        ("row_step", LongType()),
        ("is_bigendian", BooleanType()),
        ("is_dense", BooleanType()),
        ("fields", ArrayType(POINT_FIELD, True)),
        ("channels", ArrayType(POINT_CHANNEL, True)),
    ),
    "sensor_msgs/PointCloud2: one typed array per point field (channels), width x height points",
)
IMAGES = Table(
    "images",
    _struct(
        *_HEADER,
        ("height", LongType()),
        ("width", LongType()),
        ("encoding", StringType()),
        ("is_bigendian", BooleanType()),
        ("step", LongType()),
        ("data", BinaryType()),
    ),
    "sensor_msgs/Image: raw pixel bytes with encoding, width and height",
)
COMPRESSED_IMAGES = Table(
    "compressed_images",
    _struct(*_HEADER, ("format", StringType()), ("data", BinaryType())),
    "sensor_msgs/CompressedImage: encoded bytes (jpeg, png) with format",
)
CAN_SIGNALS = Table(
    "can_signals",
    _struct(
        ("t", DoubleType()),
        ("bus", IntegerType()),
        ("address", LongType()),
        ("message", StringType()),
        ("signal", StringType()),
        ("value", DoubleType()),
        ("unit", StringType()),
    ),
    "CAN signals decoded with the DBC: t (s since the Unix epoch), message, signal, physical value, unit",
)
CAN_UNKNOWN_IDS = Table(
    "can_unknown_ids",
    _struct(
        ("bus", IntegerType()),
        ("address", LongType()),
        ("reason", StringType()),
        ("frames", LongType()),
        ("first_t", DoubleType()),
        ("last_t", DoubleType()),
    ),
    "frames the DBC cannot decode, counted per object, bus, id and reason (unknown_id, short_frame)",
)
FRAMES = Table(
    "frames",
    _struct(("sample_index", LongType()), ("rate_hz", DoubleType())),
    "time-synchronised samples per drive at a configured rate; one double column per configured "
    "signal (as-of value within the tolerance, else null)",
)
EVENTS = Table(
    "events",
    _struct(
        ("event_type", StringType()),
        ("start_time", TimestampType()),
        ("end_time", TimestampType()),
        ("duration_s", DoubleType()),
        ("peak_decel_mps2", DoubleType()),
        ("speed_start_mps", DoubleType()),
        ("speed_end_mps", DoubleType()),
        ("signal", StringType()),
    ),
    "scene and event tags per drive, e.g. hard_braking from the decoded speed",
)

CURATED: dict[str, Table] = {
    t.name: t
    for t in (IMU, GNSS, ODOMETRY, POINT_CLOUDS, IMAGES, COMPRESSED_IMAGES, CAN_SIGNALS, CAN_UNKNOWN_IDS)
}
DERIVED: dict[str, Table] = {t.name: t for t in (FRAMES, EVENTS)}

# Message types with a curated table, by ROS type name (ROS 1 and ROS 2 names normalised).
CURATED_BY_TYPE = {
    "sensor_msgs/Imu": IMU,
    "sensor_msgs/NavSatFix": GNSS,
    "nav_msgs/Odometry": ODOMETRY,
    "sensor_msgs/PointCloud2": POINT_CLOUDS,
    "sensor_msgs/Image": IMAGES,
    "sensor_msgs/CompressedImage": COMPRESSED_IMAGES,
}


def with_common(fields: StructType) -> StructType:
    """The row schema of a message table: the common columns, then the message's fields."""
    return StructType([*COMMON_FIELDS, *fields.fields])


def normalize_type_name(name: str) -> str:
    """``sensor_msgs/msg/Imu`` (ROS 2) and ``sensor_msgs/Imu`` (ROS 1) name the same type."""
    parts = name.split("/")
    if len(parts) == 3 and parts[1] in ("msg", "srv", "action"):
        return f"{parts[0]}/{parts[2]}"
    return name


def message_table_name(type_name: str) -> str:
    """Table of a message type without a curated table: ``msg_`` + the type in snake case."""
    normalized = normalize_type_name(type_name)
    safe = "".join(c.lower() if c.isalnum() else "_" for c in normalized)
    return "msg_" + "_".join(p for p in safe.split("_") if p)


def table_for_type(type_name: str) -> str:
    curated = CURATED_BY_TYPE.get(normalize_type_name(type_name))
    return curated.name if curated else message_table_name(type_name)
