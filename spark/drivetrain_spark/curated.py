"""Rows of the curated tables from decoded ROS messages (ROS 1 and ROS 2 alike).

Point clouds are unpacked with one numpy view over the message's bytes (a structured dtype
built from its PointField list), never point by point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from drivetrain_spark.messages import _to_bytes

Row = dict[str, Any]

# sensor_msgs/PointField datatypes.
_POINT_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}
_POINT_NAMES = {
    1: "int8",
    2: "uint8",
    3: "int16",
    4: "uint16",
    5: "int32",
    6: "uint32",
    7: "float32",
    8: "float64",
}
_CHANNEL_SLOT = {1: "ints", 2: "ints", 3: "ints", 4: "ints", 5: "ints", 6: "longs", 7: "floats", 8: "doubles"}
CHANNEL_SLOTS = ("ints", "longs", "floats", "doubles")
SLOT_DTYPES = {"ints": np.int32, "longs": np.int64, "floats": np.float32, "doubles": np.float64}


def stamp_ns(stamp: Any) -> int:
    if hasattr(stamp, "secs"):
        return stamp.secs * 1_000_000_000 + stamp.nsecs
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _header(msg: Any) -> Row:
    header = msg.header
    return {"frame_id": header.frame_id, "header_time_ns": stamp_ns(header.stamp)}


def _vector(v: Any) -> Row:
    return {"x": float(v.x), "y": float(v.y), "z": float(v.z)}


def _quaternion(q: Any) -> Row:
    return {"x": float(q.x), "y": float(q.y), "z": float(q.z), "w": float(q.w)}


def _floats(values: Any) -> list[float]:
    return [float(x) for x in values]


def imu(msg: Any) -> Row:
    return {
        **_header(msg),
        "orientation": _quaternion(msg.orientation),
        "orientation_covariance": _floats(msg.orientation_covariance),
        "angular_velocity": _vector(msg.angular_velocity),
        "angular_velocity_covariance": _floats(msg.angular_velocity_covariance),
        "linear_acceleration": _vector(msg.linear_acceleration),
        "linear_acceleration_covariance": _floats(msg.linear_acceleration_covariance),
    }


def gnss(msg: Any) -> Row:
    return {
        **_header(msg),
        "status": int(msg.status.status),
        "service": int(msg.status.service),
        "latitude": float(msg.latitude),
        "longitude": float(msg.longitude),
        "altitude": float(msg.altitude),
        "position_covariance": _floats(msg.position_covariance),
        "position_covariance_type": int(msg.position_covariance_type),
    }


def odometry(msg: Any) -> Row:
    return {
        **_header(msg),
        "child_frame_id": msg.child_frame_id,
        "position": _vector(msg.pose.pose.position),
        "orientation": _quaternion(msg.pose.pose.orientation),
        "pose_covariance": _floats(msg.pose.covariance),
        "linear_velocity": _vector(msg.twist.twist.linear),
        "angular_velocity": _vector(msg.twist.twist.angular),
        "twist_covariance": _floats(msg.twist.covariance),
    }


def image(msg: Any) -> Row:
    return {
        **_header(msg),
        "height": int(msg.height),
        "width": int(msg.width),
        "encoding": msg.encoding,
        "is_bigendian": bool(msg.is_bigendian),
        "step": int(msg.step),
        "data": _to_bytes(msg.data),
    }


def compressed_image(msg: Any) -> Row:
    return {**_header(msg), "format": msg.format, "data": _to_bytes(msg.data)}


def point_cloud_arrays(msg: Any) -> dict[str, np.ndarray]:
    """Each field's values, in point order (row-major over height x width)."""
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    data = np.frombuffer(_to_bytes(msg.data), dtype=np.uint8)
    if len(data) < height * row_step or row_step < width * point_step:
        raise ValueError(f"point cloud data holds {len(data)} bytes, header says {height} x {row_step}")
    # Rows may be padded (row_step > width * point_step): drop the padding, keep the points.
    rows = data[: height * row_step].reshape(height, row_step)[:, : width * point_step]
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for field in msg.fields:
        code = _POINT_DTYPES.get(int(field.datatype))
        if code is None:
            raise ValueError(f"point field {field.name} has unknown datatype {field.datatype}")
        count = int(field.count) or 1
        names.append(field.name)
        formats.append((order + code, (count,)) if count > 1 else order + code)
        offsets.append(int(field.offset))
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    points = np.ascontiguousarray(rows).view(dtype).reshape(-1)
    return {name: points[name].reshape(-1) for name in names}


def point_cloud_channels(msg: Any) -> list[tuple[str, str, str, np.ndarray]]:
    """Per point field: its name, datatype name, the typed array it fills (``ints``, ``longs``,
    ``floats`` or ``doubles``) and its values, in the field's own type (usually a view of the
    message's bytes: they are widened once, as they are copied into that array)."""
    arrays = point_cloud_arrays(msg)
    return [
        (f.name, _POINT_NAMES[int(f.datatype)], _CHANNEL_SLOT[int(f.datatype)], arrays[f.name])
        for f in msg.fields
    ]


def point_cloud(msg: Any) -> Row:
    """Every column but ``channels``, which ``decode.PointCloudRows`` builds column-wise."""
    return {
        **_header(msg),
        "height": int(msg.height),
        "width": int(msg.width),
        "point_count": int(msg.height) * int(msg.width),
        "point_step": int(msg.point_step),
        "row_step": int(msg.row_step),
        "is_bigendian": bool(msg.is_bigendian),
        "is_dense": bool(msg.is_dense),
        "fields": [
            {
                "name": f.name,
                "offset": int(f.offset),
                "datatype": _POINT_NAMES.get(int(f.datatype), str(f.datatype)),
                "count": int(f.count),
            }
            for f in msg.fields
        ],
    }


CONVERTERS: dict[str, Callable[[Any], Row]] = {
    "imu": imu,
    "gnss": gnss,
    "odometry": odometry,
    "point_clouds": point_cloud,
    "images": image,
    "compressed_images": compressed_image,
}
