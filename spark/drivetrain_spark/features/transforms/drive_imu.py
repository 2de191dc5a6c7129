"""IMU statistics over each drive: specific force and yaw rate (sensor_msgs/Imu)."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def transform(inputs: dict[str, DataFrame]) -> DataFrame:
    imu = inputs["imu"]
    acc = F.col("linear_acceleration")
    norm = F.sqrt(acc["x"] * acc["x"] + acc["y"] * acc["y"] + acc["z"] * acc["z"])
    yaw = F.abs(F.col("angular_velocity")["z"])
    return imu.groupBy("drive_id").agg(
        F.max("log_time").alias("event_timestamp"),
        F.avg(norm).alias("accel_norm_mean_mps2"),
        F.stddev_pop(norm).alias("accel_norm_std_mps2"),
        F.max(norm).alias("accel_norm_max_mps2"),
        F.max(F.abs(acc["y"])).alias("lateral_accel_abs_max_mps2"),
        F.avg(yaw).alias("yaw_rate_abs_mean_rps"),
        F.max(yaw).alias("yaw_rate_abs_max_rps"),
        F.count("*").alias("imu_samples"),
    )
