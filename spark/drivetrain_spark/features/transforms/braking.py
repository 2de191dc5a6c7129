"""Hard-braking events from the ETL pillar's `events` table."""

from pyspark.sql import Column
from pyspark.sql import functions as F

HARD_BRAKING = "hard_braking"


def duration_s() -> Column:
    return (F.col("end_time_ns") - F.col("start_time_ns")) / F.lit(1e9)
