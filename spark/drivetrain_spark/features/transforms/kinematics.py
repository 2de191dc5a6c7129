"""Vehicle speed samples from decoded CAN, with acceleration and jerk by finite differences."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Toyota's DBC carries the vehicle speed as message SPEED, signal SPEED, in km/h.
SPEED_MESSAGE = "SPEED"
SPEED_SIGNAL = "SPEED"
TO_MPS = {"kph": 1 / 3.6, "km/h": 1 / 3.6, "mph": 0.44704, "m/s": 1.0}


def speed_samples(can_signals: DataFrame) -> DataFrame:
    """Rows of (vehicle_id, drive_id, log_time, t_s, speed_mps, dt_s, accel_mps2, jerk_mps3)."""
    unit_factor = F.coalesce(
        *[F.when(F.lower(F.col("unit")) == unit, F.lit(factor)) for unit, factor in TO_MPS.items()],
        F.lit(1 / 3.6),
    )
    speed = can_signals.where((F.col("message") == SPEED_MESSAGE) & (F.col("signal") == SPEED_SIGNAL)).select(
        "vehicle_id",
        "drive_id",
        "log_time",
        (F.col("log_time_ns") / F.lit(1e9)).alias("t_s"),
        (F.col("value") * unit_factor).alias("speed_mps"),
    )
    by_time = Window.partitionBy("drive_id").orderBy("t_s")
    dt = F.col("t_s") - F.lag("t_s").over(by_time)
    with_accel = speed.withColumn("dt_s", dt).withColumn(
        "accel_mps2",
        F.when(F.col("dt_s") > 0, (F.col("speed_mps") - F.lag("speed_mps").over(by_time)) / F.col("dt_s")),
    )
    return with_accel.withColumn(
        "jerk_mps3",
        F.when(F.col("dt_s") > 0, (F.col("accel_mps2") - F.lag("accel_mps2").over(by_time)) / F.col("dt_s")),
    )
