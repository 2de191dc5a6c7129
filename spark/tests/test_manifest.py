"""Run manifests leave Spark for JavaScript readers (the local workflow, the CLI, the feature
server), whose JSON numbers are doubles: 64-bit Iceberg snapshot ids must travel as strings."""

import json

from drivetrain_spark import warehouse
from drivetrain_spark.features.materialize import ViewOutcome, outcome_json

# Iceberg snapshot ids are random positive longs, nearly always above 2^53.
SNAPSHOT_ID = 2**63 - 25


def as_javascript(text: str):
    """JSON.parse: every number becomes a double."""
    return json.loads(text, parse_int=float)


def test_the_id_is_one_a_double_cannot_hold():
    assert int(float(SNAPSHOT_ID)) != SNAPSHOT_ID


def test_table_entry_snapshot_id_round_trips_exactly_through_a_javascript_reader():
    entry = warehouse.Committed(
        3, SNAPSHOT_ID, "xxh64sum:1", ["vehicle_id=a/log_time_day=2020-01-01"]
    ).manifest()
    parsed = as_javascript(json.dumps({"tables": {"imu": entry}}))["tables"]["imu"]
    assert parsed["snapshotId"] == str(SNAPSHOT_ID)
    assert int(parsed["snapshotId"]) == SNAPSHOT_ID
    assert parsed["rows"] == 3


def test_a_table_without_a_snapshot_reports_null():
    assert warehouse.Committed(0, None, "xxh64sum:0", []).manifest()["snapshotId"] is None


def test_feature_outcome_input_snapshots_round_trip_exactly():
    outcome = ViewOutcome("drive_imu", "full", "new", {"imu": SNAPSHOT_ID, "gnss": None})
    parsed = as_javascript(json.dumps(outcome_json(outcome)))
    assert parsed["inputs"] == {"imu": str(SNAPSHOT_ID), "gnss": None}
