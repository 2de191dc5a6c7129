"""Drivetrain's Spark jobs: sensor-log ETL and feature materialization.

Transforms are pure DataFrame functions; the Glue and EMR Serverless entry points stay thin.
"""
