#!/bin/sh
# A chaos-test job: records its start and its end in the run's ledger, so the test can tell
# which attempts (and gang nodes) ran and which ran to completion. Usage: job.sh <ledger> <seconds> <exit code>
echo "start $DRIVETRAIN_JOB_ID $DRIVETRAIN_ATTEMPT ${DRIVETRAIN_NODE_INDEX:-0}" >> "$1"
sleep "$2"
if [ "$3" != 0 ]; then exit "$3"; fi
echo "end $DRIVETRAIN_JOB_ID $DRIVETRAIN_ATTEMPT ${DRIVETRAIN_NODE_INDEX:-0}" >> "$1"
