"""Vehicle speed from decoded CAN, resampled to 10 Hz, with acceleration and jerk by finite
differences of the resampled series: differencing the raw ~40 Hz samples would turn the
signal's 0.01 km/h quantisation into accelerations of tens of m/s^2."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# Toyota's DBC carries the vehicle speed as message SPEED, signal SPEED, in km/h.
SPEED_MESSAGE = "SPEED"
SPEED_SIGNAL = "SPEED"
TO_MPS = {"kph": 1 / 3.6, "km/h": 1 / 3.6, "mph": 0.44704, "m/s": 1.0}
STEP_S = 0.1


def speed_samples(can_signals: DataFrame) -> DataFrame:
    """Rows of (vehicle_id, drive_id, log_time, t_s, speed_mps, dt_s, accel_mps2, jerk_mps3)."""
    unit_factor = F.coalesce(
        *[F.when(F.lower(F.col("unit")) == unit, F.lit(factor)) for unit, factor in TO_MPS.items()],
        F.lit(1 / 3.6),
    )
    step = F.floor(F.col("log_time_ns") / F.lit(STEP_S * 1e9))
    speed = (
        can_signals.where((F.col("message") == SPEED_MESSAGE) & (F.col("signal") == SPEED_SIGNAL))
        .groupBy("vehicle_id", "drive_id", step.alias("step"))
        .agg(F.max("log_time").alias("log_time"), F.avg(F.col("value") * unit_factor).alias("speed_mps"))
        .withColumn("t_s", F.col("step") * F.lit(STEP_S))
        .drop("step")
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
