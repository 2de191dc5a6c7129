"""AWS Glue entry point: Glue job arguments in, the same ``drivetrain_spark.jobs.ingest.main``.

Glue passes job arguments as ``--run_id``, ``--inputs``, ``--warehouse``, ``--catalog_name``,
``--database``, ``--quarantine``, ``--manifest`` and optionally ``--config`` (Glue's own
convention: underscores, read with ``getResolvedOptions``). ``awsglue`` exists only on Glue,
so it is imported here and nowhere else. The ``drivetrain_spark`` package and its
dependencies come from ``--extra-py-files`` / ``--additional-python-modules``.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from drivetrain_spark.jobs.ingest import main

REQUIRED = ["JOB_NAME", "run_id", "inputs", "warehouse", "catalog_name", "database", "quarantine", "manifest"]
OPTIONAL = ["config"]

args = getResolvedOptions(sys.argv, REQUIRED + [name for name in OPTIONAL if f"--{name}" in sys.argv])
glue = GlueContext(SparkContext.getOrCreate())
job = Job(glue)
job.init(args["JOB_NAME"], args)
argv = ["--catalog-type", "glue"]
for name in REQUIRED[1:] + OPTIONAL:
    if name in args:
        argv += [f"--{name.replace('_', '-')}", args[name]]
main(argv, spark=glue.spark_session)
job.commit()
