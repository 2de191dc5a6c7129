"""Prints rows of one Iceberg table of the local warehouse as JSON lines (`drivetrain data show`).

Reads through Spark with the Hadoop catalog the ingest job writes, so what it prints is what
a training job reading the table sees. Binary columns (image bytes) print as their length.
"""

import argparse
import base64
import json
import sys

from pyspark.sql import SparkSession

from drivetrain_spark.session import catalog_conf, local_builder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()
    builder = local_builder(SparkSession.builder.appName("drivetrain-show"), "local[1]")
    for key, value in catalog_conf("hadoop", args.catalog, args.warehouse).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.table(f"{args.catalog}.{args.database}.{args.table}")
    print(json.dumps({"columns": frame.columns}), flush=True)
    for row in frame.limit(args.limit).collect():
        print(json.dumps(row.asDict(recursive=True), default=_plain), flush=True)
    spark.stop()


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value), "head": base64.b64encode(bytes(value[:12])).decode()}
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
