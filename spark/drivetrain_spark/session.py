"""The SparkSession of a job: Iceberg catalog over a Hadoop (file-system) warehouse locally, or
the Glue Data Catalog on AWS. Glue 5.1 ships Iceberg 1.10.0; locally Spark loads the same
version's ``iceberg-spark-runtime-3.5_2.12`` jar, which ``scripts/bootstrap.sh`` fetches into
``.drivetrain/jars/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

ICEBERG_VERSION = "1.10.0"  # what AWS Glue 5.1 ships (Glue 5.1 migration guide)
ICEBERG_RUNTIME = f"iceberg-spark-runtime-3.5_2.12-{ICEBERG_VERSION}.jar"
REPO = Path(__file__).resolve().parents[2]
ARROW_UNCHECKED = "-Darrow.enable_unsafe_memory_access=true -Darrow.enable_null_check_for_get=false"
# A local job's JVM lives seconds and runs little hot code (the decoding is in Python workers):
# C2's optimising compiles cost more CPU than they return, on cores the workers need. Measured
# on the ingest of a 0.25 GB MCAP: the JVM's CPU 17 s -> 10 s, the run's wall time 22 s -> 15 s.
QUICK_JIT = "-XX:TieredStopAtLevel=1"


def iceberg_jar() -> Path:
    jar = Path(os.environ.get("DRIVETRAIN_ICEBERG_JAR", REPO / ".drivetrain" / "jars" / ICEBERG_RUNTIME))
    if not jar.is_file():
        raise FileNotFoundError(
            f"{jar} is missing: run scripts/bootstrap.sh (it fetches the Iceberg runtime)"
        )
    return jar


def catalog_conf(catalog_type: str, catalog_name: str, warehouse: str) -> dict[str, str]:
    prefix = f"spark.sql.catalog.{catalog_name}"
    conf = {prefix: "org.apache.iceberg.spark.SparkCatalog", f"{prefix}.warehouse": warehouse}
    if catalog_type == "hadoop":
        conf[f"{prefix}.type"] = "hadoop"
    elif catalog_type == "glue":
        conf[f"{prefix}.catalog-impl"] = "org.apache.iceberg.aws.glue.GlueCatalog"
        conf[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
    else:
        raise ValueError(f"catalog type must be hadoop or glue, not {catalog_type!r}")
    return conf


def get_or_create(
    catalog_type: str, catalog_name: str, warehouse: str, master: str | None = None
) -> SparkSession:
    """An active session (spark-submit, Glue, EMR, a test's fixture) gets the catalog added at
    runtime; otherwise a local session is started with the Iceberg jar."""
    active = SparkSession.getActiveSession()
    conf = {**catalog_conf(catalog_type, catalog_name, warehouse), "spark.sql.session.timeZone": "UTC"}
    if active is not None:
        for key, value in conf.items():
            active.conf.set(key, value)
        return active
    builder = SparkSession.builder.appName("drivetrain-ingest")
    if master or "SPARK_HOME" not in os.environ:
        builder = local_builder(builder, master or "local[2]")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def local_builder(builder: SparkSession.Builder, master: str) -> SparkSession.Builder:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        builder.master(master)
        .config("spark.jars", str(iceberg_jar()))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("DRIVETRAIN_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        # Arrow batches from the Python decoders are read value by value; Arrow's per-access
        # bounds and reference-count checks cost more than the copy (Spark's own buffers only).
        .config("spark.driver.extraJavaOptions", f"{ARROW_UNCHECKED} {QUICK_JIT}")
    )


if __name__ == "__main__":
    # `python -m drivetrain_spark.session` prints the jar for spark-submit --jars.
    print(iceberg_jar())
