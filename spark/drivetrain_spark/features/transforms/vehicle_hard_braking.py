"""Hard-braking events per vehicle over all of its drives."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from drivetrain_spark.features.transforms.braking import HARD_BRAKING


def transform(inputs: dict[str, DataFrame]) -> DataFrame:
    events = inputs["events"]
    hard = F.count(F.when(F.col("event_type") == HARD_BRAKING, 1))
    drives = F.countDistinct("drive_id")
    return events.groupBy("vehicle_id").agg(
        F.max("log_time").alias("event_timestamp"),
        hard.alias("hard_brake_count"),
        drives.alias("drives"),
        (hard / drives).alias("hard_brakes_per_drive"),
    )
