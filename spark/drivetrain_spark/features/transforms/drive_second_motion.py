"""Speed, acceleration and jerk statistics per second of each drive."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from drivetrain_spark.features.transforms.kinematics import speed_samples


def transform(inputs: dict[str, DataFrame]) -> DataFrame:
    samples = speed_samples(inputs["can_signals"])
    return (
        samples.withColumn("event_timestamp", F.date_trunc("second", "log_time"))
        .groupBy("drive_id", "event_timestamp")
        .agg(
            F.avg("speed_mps").alias("speed_mean_mps"),
            F.min("speed_mps").alias("speed_min_mps"),
            F.max("speed_mps").alias("speed_max_mps"),
            F.avg("accel_mps2").alias("accel_mean_mps2"),
            F.max(F.abs("jerk_mps3")).alias("jerk_abs_max_mps3"),
            F.count("*").alias("speed_samples"),
        )
    )
