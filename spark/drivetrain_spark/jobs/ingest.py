"""The ingest job: raw logs in, Iceberg tables and a run manifest out.

    python -m drivetrain_spark.jobs.ingest --run-id R --inputs inputs.json \\
        --warehouse file:///…/.drivetrain/warehouse --catalog-type hadoop --catalog-name drivetrain \\
        --database sensor --quarantine file:///…/.drivetrain/quarantine \\
        --manifest file:///…/.drivetrain/runs/R/manifest.json [--config config.json]

``--inputs`` is a path or URI of a JSON list of ``{uri, bytes, sha256?}`` (``vehicleId`` and
``driveId`` may override the key layout ``raw/<vehicle>/<drive>/…``). ``--config`` is a path,
URI or inline JSON object (see ``IngestConfig``). Glue (``spark/glue/ingest.py``) and EMR
Serverless (this file as ``entryPoint``) call the same ``main``.

Stages: plan every object (on the executors: only indexes are read), resolve message types
and tables and widen the tables' schemas (driver), then one task per work unit decodes it and
writes its rows to data files of every table it touches (``decode.py``, ``datafiles.py``);
quarantine every object that failed anywhere, commit each table once (the new files of the
objects that passed replace their rows), derive frames and events for the drives touched,
write the manifest. Exit status 0 means the run committed; quarantined inputs are reported in
the manifest, not as a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from drivetrain_spark import datafiles, layout, messages, objects, sources, warehouse
from drivetrain_spark.decode import FileEntry, Plan, write_units
from drivetrain_spark.session import get_or_create
from drivetrain_spark.tables import (
    CAN_SIGNALS,
    CAN_UNKNOWN_IDS,
    CURATED,
    SCHEMA_VERSION,
    table_for_type,
    with_common,
)

COMMIT_THREADS = 4
DRIVER_PLAN_LIMIT = 16


@dataclass
class IngestConfig:
    """Job options (``--config``). Keys are camelCase in JSON."""

    dbc: str | None = None  # DBC for .can.parquet inputs (its CM_ "IMPORT" lines are followed)
    can_signals: list[str] | None = None  # only these "MESSAGE.SIGNAL" (default: every signal)
    frames: dict[str, Any] = field(default_factory=dict)  # see frames.py
    events: dict[str, Any] = field(default_factory=dict)  # see frames.py
    max_tasks: int | None = None  # write tasks at most (default: one task per work unit)

    @classmethod
    def parse(cls, value: dict[str, Any]) -> IngestConfig:
        known = {"dbc", "canSignals", "frames", "events", "maxTasks"}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(
            dbc=value.get("dbc"),
            can_signals=value.get("canSignals"),
            frames=value.get("frames", {}),
            events=value.get("events", {}),
            max_tasks=value.get("maxTasks"),
        )


@dataclass
class InputStatus:
    uri: str
    bytes: int
    sha256: str | None
    vehicle_id: str | None = None
    drive_id: str | None = None
    format: str | None = None
    status: str = "ok"
    reason: str | None = None
    detail: str | None = None

    def reject(self, reason: str, detail: str) -> None:
        if self.status == "ok":
            self.status, self.reason, self.detail = "quarantined", reason, detail

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uri": self.uri,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "status": self.status,
        }
        if self.reason:
            out["reason"] = self.reason
            out["detail"] = self.detail
        if self.vehicle_id:
            out["vehicleId"], out["driveId"], out["format"] = self.vehicle_id, self.drive_id, self.format
        return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="drivetrain_spark.jobs.ingest", description=__doc__.split("\n")[0])
    p.add_argument("--run-id", required=True)
    p.add_argument("--inputs", required=True, help="path or URI of a JSON list of {uri, bytes, sha256?}")
    p.add_argument("--warehouse", required=True)
    p.add_argument("--catalog-type", choices=("hadoop", "glue"), default="hadoop")
    p.add_argument("--catalog-name", default="drivetrain")
    p.add_argument("--database", default="sensor")
    p.add_argument("--quarantine", required=True, help="URI prefix for rejected objects")
    p.add_argument("--manifest", required=True, help="URI where the run manifest JSON is written")
    p.add_argument("--config", default=None, help="path, URI or inline JSON object")
    p.add_argument("--master", default=None, help="Spark master for a local session (default local[2])")
    return p.parse_args(argv)


def _load_json(value: str) -> Any:
    text = value.strip()
    if text.startswith(("{", "[")):
        return json.loads(text)
    return objects.read_json(value)


def main(argv: list[str] | None = None, spark: SparkSession | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    config = IngestConfig.parse(_load_json(args.config) if args.config else {})
    warehouse_uri = objects.canonical(args.warehouse)
    spark = spark or get_or_create(args.catalog_type, args.catalog_name, warehouse_uri, args.master)
    # A session handed in (Glue's, a test's) gets the catalog at runtime: catalogs load lazily.
    for key, value in _catalog(args, warehouse_uri).items():
        spark.conf.set(key, value)
    run = Ingest(spark, args, config, warehouse_uri)
    manifest = run.execute()
    objects.write_json(args.manifest, manifest)
    return manifest


def _catalog(args: argparse.Namespace, warehouse_uri: str) -> dict[str, str]:
    from drivetrain_spark.session import catalog_conf

    return catalog_conf(args.catalog_type, args.catalog_name, warehouse_uri)


class Ingest:
    def __init__(
        self, spark: SparkSession, args: argparse.Namespace, config: IngestConfig, warehouse_uri: str
    ):
        self.spark, self.args, self.config, self.warehouse = spark, args, config, warehouse_uri
        self.started = _now()
        self._t0 = time.monotonic()

    # ------------------------------------------------------------------ stages

    def execute(self) -> dict[str, Any]:
        inputs = self._inputs()
        self._log(f"run {self.args.run_id}: {len(inputs)} inputs")
        plan, units = self._plan(inputs)
        tables: dict[str, dict[str, Any]] = {}
        unknown_can: dict[str, int] = {}
        if units:
            direct = self._write(plan, units)
            for uri, (reason, detail) in direct.errors.items():
                inputs[uri].reject(reason, detail)
            self._quarantine(inputs)
            ok = [s for s in inputs.values() if s.status == "ok" and s.format]
            tables = self._commit(plan, direct, ok)
            if any(s.format == "can" for s in ok):
                tables.update(self._commit_can_unknown(direct, ok))
                unknown_can = _unknown_counts(direct.extra({s.uri for s in ok}))
            tables.update(self._derive(ok))
        else:
            self._quarantine(inputs)
        return {
            "runId": self.args.run_id,
            "schemaVersion": SCHEMA_VERSION,
            "startedAt": self.started,
            "finishedAt": _now(),
            "catalog": {
                "type": self.args.catalog_type,
                "name": self.args.catalog_name,
                "database": self.args.database,
            },
            "inputs": [s.manifest() for s in inputs.values()],
            "tables": tables,
            "unknownCanIds": unknown_can,
        }

    def _inputs(self) -> dict[str, InputStatus]:
        listed = _load_json(self.args.inputs)
        if not isinstance(listed, list):
            raise ValueError("--inputs must be a JSON list of {uri, bytes, sha256?}")
        inputs: dict[str, InputStatus] = {}
        for item in listed:
            uri = objects.canonical(item["uri"])
            status = InputStatus(uri, int(item.get("bytes", 0)), item.get("sha256"))
            inputs[uri] = status
            if layout.is_companion(uri):
                continue  # metadata.yaml beside a .db3: read with it, not an input of its own
            try:
                raw = layout.parse(uri, item.get("vehicleId"), item.get("driveId"))
                status.vehicle_id, status.drive_id, status.format = raw.vehicle_id, raw.drive_id, raw.format
            except layout.LayoutError as err:
                status.reject("bad_key", str(err))
        return inputs

    def _plan(self, inputs: dict[str, InputStatus]) -> tuple[Plan, list[sources.Unit]]:
        todo = [(s.uri, s.format, s.sha256) for s in inputs.values() if s.status == "ok" and s.format]
        if not todo:
            return Plan(), []
        # Planning reads each object's index (and its sha256 when the caller gave none). A few
        # objects are planned on the driver; many are spread over the executors.
        if len(todo) <= DRIVER_PLAN_LIMIT:
            with ThreadPoolExecutor(COMMIT_THREADS) as pool:
                planned = list(pool.map(_plan_object, todo))
        else:
            slices = max(1, min(len(todo), self._parallelism() * 4))
            planned = self.spark.sparkContext.parallelize(todo, slices).map(_plan_object).collect()
        plan = Plan()
        plan.can = self._can_options()
        units: list[sources.Unit] = []
        for uri, result in planned:
            status = inputs[uri]
            status.sha256 = result.get("sha256") or status.sha256
            status.bytes = result.get("size", status.bytes)
            if "reason" in result:
                status.reject(result["reason"], result["detail"])
                continue
            file_plan: sources.FilePlan = result["plan"]
            try:
                entry = self._resolve(file_plan, status, plan)
            except (messages.UnsupportedEncoding, messages.UnknownSchema, TypeError) as err:
                status.reject(_reason(err), str(err))
                continue
            plan.files[uri] = entry
            units.extend(file_plan.units)
        return plan, units

    def _resolve(self, file_plan: sources.FilePlan, status: InputStatus, plan: Plan) -> FileEntry:
        if file_plan.format == "can":
            return FileEntry(file_plan.uri, status.vehicle_id or "", status.drive_id or "", {}, {})
        tables: dict[int, str] = {}
        staged: dict[str, Any] = {}
        for cid, channel in file_plan.channels.items():
            mtype = messages.load(channel.schema)
            table = table_for_type(channel.schema.name) if channel.schema.name else "json_messages"
            schema = CURATED[table].schema if table in CURATED else with_common(mtype.fields)
            previous = staged.get(table) or plan.tables.get(table)
            staged[table] = messages.merge_struct(previous, schema) if previous is not None else schema
            tables[cid] = table
        plan.tables.update(staged)
        return FileEntry(
            file_plan.uri, status.vehicle_id or "", status.drive_id or "", file_plan.channels, tables
        )

    def _write(self, plan: Plan, units: list[sources.Unit]) -> datafiles.DirectWrites:
        """Every unit's task decodes it and writes its rows of every table (logs: ``decode.py``;
        CAN: ``can.py``) under the table's current schema, widened first to the plan's."""
        warehouse.ensure_database(self.spark, self.args.catalog_name, self.args.database)
        schemas = dict(plan.tables)
        if any(u.format == "can" for u in units):
            schemas["can_signals"] = CAN_SIGNALS.schema

        def target(table: str) -> tuple[str, datafiles.Target]:
            name = warehouse.ident(self.args.catalog_name, self.args.database, table)
            warehouse.ensure_table(self.spark, name, schemas[table])
            warehouse.ensure_schema(self.spark, name, schemas[table])
            return table, datafiles.target_for(self.spark, name, self.args.run_id)

        with ThreadPoolExecutor(COMMIT_THREADS) as pool:
            targets = dict(pool.map(target, sorted(schemas)))
        rows = [(u.uri, u.format, u.index, u.offset, u.length) for u in units]
        broadcast = self.spark.sparkContext.broadcast(plan)
        slices = max(1, min(len(rows), self.config.max_tasks or len(rows)))
        self._log(f"writing {len(targets)} tables from {len(units)} units of {len(plan.files)} objects")
        t0 = time.monotonic()

        def run(unit_rows):
            return write_units(broadcast.value, targets)(unit_rows)

        direct = datafiles.write(self.spark, rows, run, targets, slices)
        self._log(
            f"wrote {len(direct.files_of({u.uri for u in units}))} files in {time.monotonic() - t0:.1f}s"
        )
        return direct

    def _commit(
        self, plan: Plan, direct: datafiles.DirectWrites, ok: list[InputStatus]
    ) -> dict[str, dict[str, Any]]:
        """One commit per table: the files of the objects that passed replace their rows."""
        by_table: dict[str, list[str]] = {table: [] for table in direct.targets}
        for status in ok:
            for table in _tables_of(plan, status):
                by_table[table].append(status.uri)
        done = datafiles.commit_all(self.spark, direct, by_table, self.args.run_id, self.warehouse)
        for table, committed in sorted(done.items()):
            self._log(f"committed {table}: {committed.rows} rows, snapshot {committed.snapshot_id}")
        return {table: committed.manifest() for table, committed in sorted(done.items())}

    def _commit_can_unknown(
        self, direct: datafiles.DirectWrites, ok: list[InputStatus]
    ) -> dict[str, dict[str, Any]]:
        """The small ``can_unknown_ids`` table, through Spark."""
        from drivetrain_spark import can

        good = sorted(s.uri for s in ok if s.format == "can")
        name = warehouse.ident(self.args.catalog_name, self.args.database, "can_unknown_ids")
        unknown = self.spark.createDataFrame(direct.extra(set(good)), CAN_UNKNOWN_IDS.schema)
        vehicles = sorted({s.vehicle_id for s in ok if s.vehicle_id})
        counted = warehouse.replace_sources(
            self.spark, name, can.combine_unknown(unknown), good, vehicles, self.args.run_id, self.warehouse
        )
        return {} if counted is None else {"can_unknown_ids": counted.manifest()}

    def _quarantine(self, inputs: dict[str, InputStatus]) -> None:
        for status in inputs.values():
            if status.status != "quarantined":
                continue
            name = status.uri.split("://", 1)[-1].lstrip("/")
            target = objects.join(self.args.quarantine, self.args.run_id, name)
            with contextlib.suppress(OSError):  # a missing object is quarantined by its reason alone
                objects.copy(status.uri, target)
            reason = {"runId": self.args.run_id, "uri": status.uri, "reason": status.reason}
            objects.write_json(target + ".reason.json", {**reason, "detail": status.detail})

    def _derive(self, ok: list[InputStatus]) -> dict[str, dict[str, Any]]:
        if not (self.config.frames or self.config.events):
            return {}
        from drivetrain_spark import frames

        drives = sorted({(s.vehicle_id, s.drive_id) for s in ok if s.vehicle_id and s.drive_id})
        return frames.derive(self.spark, self.args, self.config, self.warehouse, drives)

    # ------------------------------------------------------------------ small parts

    def _can_options(self) -> dict[str, Any]:
        return {"dbc": self.config.dbc, "signals": self.config.can_signals}

    def _parallelism(self) -> int:
        return max(1, self.spark.sparkContext.defaultParallelism)

    def _log(self, text: str) -> None:
        elapsed = time.monotonic() - self._t0
        print(f"[ingest {elapsed:6.1f}s] {text}", file=sys.stderr, flush=True)


def _unknown_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[tuple[int, int], int] = {}
    for row in rows:  # every reason, as can_unknown_ids counts them
        key = (row["bus"], row["address"])
        counts[key] = counts.get(key, 0) + row["frames"]
    return {f"{bus}:0x{address:X}": n for (bus, address), n in sorted(counts.items())}


def _plan_object(item: tuple[str, str, str | None]) -> tuple[str, dict[str, Any]]:
    uri, fmt, sha = item
    result: dict[str, Any] = {}
    try:
        result["size"] = objects.size(uri)
        result["sha256"] = sha or objects.sha256(uri)
        if fmt == "can":
            from drivetrain_spark import can

            result["plan"] = can.plan(uri, result["size"])
        else:
            result["plan"] = sources.plan(uri, fmt)
    except sources.Rejected as err:
        result.update(reason=err.reason, detail=err.detail)
    except FileNotFoundError:
        result.update(reason="missing", detail="the object does not exist")
    except Exception as err:
        result.update(reason="garbage", detail=f"{type(err).__name__}: {err}")
    return uri, result


def _tables_of(plan: Plan, status: InputStatus) -> set[str]:
    if status.format == "can":
        return {"can_signals"}
    entry = plan.files.get(status.uri)
    return set() if entry is None else set(entry.tables.values())


def _reason(err: Exception) -> str:
    if isinstance(err, messages.UnsupportedEncoding):
        return "unknown_encoding"
    if isinstance(err, messages.UnknownSchema):
        return "unknown_schema"
    return "schema_conflict"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


if __name__ == "__main__":
    manifest = main(sys.argv[1:])
    quarantined = sum(1 for i in manifest["inputs"] if i["status"] == "quarantined")
    print(
        json.dumps(
            {"runId": manifest["runId"], "tables": len(manifest["tables"]), "quarantined": quarantined}
        )
    )
