"""Speed, acceleration and jerk statistics over each drive."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from drivetrain_spark.features.transforms.kinematics import speed_samples


def transform(inputs: dict[str, DataFrame]) -> DataFrame:
    samples = speed_samples(inputs["can_signals"])
    by_time = Window.partitionBy("drive_id").orderBy("t_s")
    # Trapezoidal distance of each step: mean speed of its two ends times its duration.
    step_m = (F.col("speed_mps") + F.lag("speed_mps").over(by_time)) / 2 * F.col("dt_s")
    return (
        samples.withColumn("step_m", step_m)
        .groupBy("drive_id")
        .agg(
            F.max("log_time").alias("event_timestamp"),
            F.avg("speed_mps").alias("speed_mean_mps"),
            F.max("speed_mps").alias("speed_max_mps"),
            F.percentile_approx("speed_mps", 0.95, 10_000).cast("double").alias("speed_p95_mps"),
            F.avg("accel_mps2").alias("accel_mean_mps2"),
            F.max("accel_mps2").alias("accel_max_mps2"),
            F.min("accel_mps2").alias("accel_min_mps2"),
            F.avg(F.abs("jerk_mps3")).alias("jerk_abs_mean_mps3"),
            F.max(F.abs("jerk_mps3")).alias("jerk_abs_max_mps3"),
            (F.max("t_s") - F.min("t_s")).alias("duration_s"),
            F.coalesce(F.sum("step_m"), F.lit(0.0)).alias("distance_m"),
            F.count("*").alias("speed_samples"),
        )
    )
