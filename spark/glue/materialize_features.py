"""AWS Glue entry point of feature materialization: Glue job arguments in, the same
``drivetrain_spark.features.materialize.main`` that runs locally.

Glue passes ``--run_id``, ``--warehouse``, ``--bucket``, ``--catalog_name``, ``--etl_database`` and
``--feature_database``; the registry artifact arrives as an extra file in the working
directory. ``awsglue`` exists only on Glue, so it is imported here and nowhere else.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from drivetrain_spark.features.materialize import main

REQUIRED = ["JOB_NAME", "run_id", "warehouse", "bucket", "catalog_name", "etl_database", "feature_database"]

args = getResolvedOptions(sys.argv, REQUIRED)
glue = GlueContext(SparkContext.getOrCreate())
job = Job(glue)
job.init(args["JOB_NAME"], args)
main(
    [
        "--catalog-type",
        "glue",
        "--registry",
        "registry.json",
        "--run-id",
        args["run_id"],
        "--warehouse",
        args["warehouse"],
        "--catalog-name",
        args["catalog_name"],
        "--output",
        f"s3://{args['bucket']}",
        "--etl-database",
        args["etl_database"],
        "--feature-database",
        args["feature_database"],
    ],
    spark=glue.spark_session,
)
job.commit()
