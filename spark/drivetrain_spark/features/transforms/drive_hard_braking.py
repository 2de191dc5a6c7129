"""Hard-braking events per drive."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from drivetrain_spark.features.transforms.braking import HARD_BRAKING, duration_s


def transform(inputs: dict[str, DataFrame]) -> DataFrame:
    events = inputs["events"]
    # Every drive with any event row gets a row, so a drive without hard braking reads 0, not NOT_FOUND.
    is_hard = F.col("event_type") == HARD_BRAKING
    return events.groupBy("drive_id").agg(
        F.max("log_time").alias("event_timestamp"),
        F.count(F.when(is_hard, 1)).alias("hard_brake_count"),
        F.max(F.when(is_hard, F.col("magnitude"))).alias("hard_brake_max_decel_mps2"),
        F.coalesce(F.sum(F.when(is_hard, duration_s())), F.lit(0.0)).alias("hard_brake_total_s"),
    )
