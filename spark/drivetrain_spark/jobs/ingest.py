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
and tables (driver), decode all units once to find every failure and where each table's rows
fall (staging only that), quarantine every object that failed, commit each table once
(replacing the inputs' rows) from a second decode of its messages in the objects that passed,
derive frames and events for the drives touched, write the manifest. Exit status 0 means the run committed;
quarantined inputs are reported in the manifest, not as a failure.
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

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from drivetrain_spark import layout, messages, objects, sources, warehouse
from drivetrain_spark.decode import (
    KEYS,
    STAGED_TABLES,
    UNIT_SCHEMA,
    FileEntry,
    Plan,
    decode_units,
    staged_columns,
)
from drivetrain_spark.session import get_or_create
from drivetrain_spark.tables import (
    CAN_SIGNALS,
    CAN_UNKNOWN_IDS,
    COMMON_FIELDS,
    CURATED,
    SCHEMA_VERSION,
    table_for_type,
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
    max_tasks: int | None = None  # decode parallelism (default: Spark's default parallelism)

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
    p.add_argument(
        "--staging", default=None, help="URI prefix for the decode stage (default: <warehouse>/_staging)"
    )
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
        self.staging = objects.join(args.staging or objects.join(warehouse_uri, "_staging"), args.run_id)
        self.started = _now()
        self._t0 = time.monotonic()

    # ------------------------------------------------------------------ stages

    def execute(self) -> dict[str, Any]:
        inputs = self._inputs()
        self._log(f"run {self.args.run_id}: {len(inputs)} inputs")
        plan, units = self._plan(inputs)
        tables: dict[str, dict[str, Any]] = {}
        unknown_can: dict[str, int] = {}
        can_units = [u for u in units if u.format == "can"]
        units = [u for u in units if u.format != "can"]
        if units or can_units:
            errors = self._decode(plan, units) if units else {}
            direct = self._write_can(plan, can_units) if can_units else None
            if direct is not None:
                errors.update(direct.errors)
            for uri, (reason, detail) in errors.items():
                inputs[uri].reject(reason, detail)
            self._quarantine(inputs)
            ok = [s for s in inputs.values() if s.status == "ok" and s.format]
            tables = self._commit(plan, ok)
            if direct is not None:
                tables.update(self._commit_can(direct, ok))
                unknown_can = direct.unknown_counts({s.uri for s in ok})
            tables.update(self._derive(ok))
            objects.delete_dir(self.staging)
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
            schema = CURATED[table].schema if table in CURATED else _with_common(mtype.fields)
            previous = staged.get(table) or plan.tables.get(table)
            staged[table] = messages.merge_struct(previous, schema) if previous is not None else schema
            tables[cid] = table
        plan.tables.update(staged)
        return FileEntry(
            file_plan.uri, status.vehicle_id or "", status.drive_id or "", file_plan.channels, tables
        )

    def _decode(self, plan: Plan, units: list[sources.Unit]) -> dict[str, tuple[str, str]]:
        """Pass one over every unit (see decode.py): failures, each table's vehicle-days per
        object and the small tables, staged as Parquet partitioned by table."""
        envelope = plan.envelope()
        rows = [(u.uri, u.format, u.index, u.offset, u.length) for u in units]
        parts = max(1, min(len(rows), self.config.max_tasks or self._parallelism() * 4))
        unit_df = self.spark.createDataFrame(rows, UNIT_SCHEMA).repartition(parts)
        broadcast = self.spark.sparkContext.broadcast(plan)
        self._log(f"decoding {len(units)} units of {len(plan.files)} objects in {parts} tasks")

        def run(batches):
            return decode_units(broadcast.value)(batches)

        t0 = time.monotonic()
        _bounded_memory(self.spark)
        decoded = unit_df.mapInArrow(run, envelope)
        # Staged uncompressed: it is read back at once and deleted, so compression only costs CPU.
        # No dictionaries either: point-cloud floats never fit one, and trying costs a hash per value.
        staged = decoded.write.mode("overwrite").option("compression", "none")
        staged.option("parquet.enable.dictionary", "false").partitionBy("_table").parquet(self.staging)
        self._log(f"decoded in {time.monotonic() - t0:.1f}s")
        errors: dict[str, tuple[str, str]] = {}
        for row in self._staged("_errors").select("_source", "_error").collect():
            detail = json.loads(row._error)
            errors.setdefault(row._source, (detail["reason"], detail["detail"]))
        self._envelope = envelope
        self._units, self._broadcast, self._tasks = rows, broadcast, parts
        self._keys: dict[str, dict[str, set[tuple[str, dt.date]]]] = {}
        columns = ["_source", "`_keys:table`", "`_keys:vehicle_id`", "`_keys:day`"]
        for source, table, vehicle, day in self._staged(KEYS).select(*columns).collect():
            self._keys.setdefault(table, {}).setdefault(source, set()).add((vehicle, day))
        return errors

    def _write_can(self, plan: Plan, units: list[sources.Unit]) -> DirectCan:
        """CAN's direct path: one task per unit decodes its frames and writes ``can_signals``
        data files itself (see datafiles.py); nothing is committed yet."""
        from drivetrain_spark import can, datafiles

        plan.can = self._can_options()
        warehouse.ensure_database(self.spark, self.args.catalog_name, self.args.database)
        name = warehouse.ident(self.args.catalog_name, self.args.database, "can_signals")
        warehouse.ensure_table(self.spark, name, CAN_SIGNALS.schema)
        warehouse.ensure_columns(self.spark, name, CAN_SIGNALS.schema)
        target = datafiles.target_for(self.spark, name, self.args.run_id)
        rows = [(u.uri, u.format, u.index, u.offset, u.length) for u in units]
        broadcast = self.spark.sparkContext.broadcast(plan)
        slices = max(1, min(len(rows), self.config.max_tasks or len(rows)))
        self._log(f"writing can_signals from {len(units)} CAN units in {slices} tasks")
        t0 = time.monotonic()

        def run(unit_rows):
            return can.write_units(broadcast.value, target)(unit_rows)

        try:
            results = self.spark.sparkContext.parallelize(rows, slices).mapPartitions(run).collect()
        except Exception:
            datafiles.delete_written(target)  # files of the tasks that finished: never committed
            raise
        self._log(f"wrote can_signals in {time.monotonic() - t0:.1f}s")
        return DirectCan(name, target, results)

    def _commit_can(self, direct: DirectCan, ok: list[InputStatus]) -> dict[str, dict[str, Any]]:
        """One commit of ``can_signals`` (the tasks' files replace the inputs' rows) and one of the
        small ``can_unknown_ids`` (through Spark)."""
        from drivetrain_spark import can, datafiles

        good = sorted(s.uri for s in ok if s.format == "can")
        datafiles.delete_files(direct.files_outside(set(good)))
        results: dict[str, dict[str, Any]] = {}
        if not good:
            return results
        try:
            done = datafiles.commit(
                self.spark, direct.name, direct.files_of(set(good)), good, self.args.run_id, self.warehouse
            )
        except Exception as err:
            if not datafiles.committed_maybe(err):
                datafiles.delete_files(direct.files_of(set(good)))
            raise
        if done is not None:
            results["can_signals"] = done.manifest()
            self._log(f"committed can_signals: {done.rows} rows, snapshot {done.snapshot_id}")
        name = warehouse.ident(self.args.catalog_name, self.args.database, "can_unknown_ids")
        unknown = self.spark.createDataFrame(direct.unknown_rows(set(good)), CAN_UNKNOWN_IDS.schema)
        vehicles = sorted({s.vehicle_id for s in ok if s.vehicle_id})
        counted = warehouse.replace_sources(
            self.spark, name, can.combine_unknown(unknown), good, vehicles, self.args.run_id, self.warehouse
        )
        if counted is not None:
            results["can_unknown_ids"] = counted.manifest()
        return results

    def _decoded(self, plan: Plan, table: str, relevant: list[str]) -> tuple[DataFrame, set]:
        """Pass two: the table's rows from the objects that passed, decoded again as the commit
        writes them; and the vehicle-days they fall in, from pass one."""
        keys = set().union(*(self._keys.get(table, {}).get(uri, set()) for uri in relevant))
        if not keys:
            return self.spark.createDataFrame([], plan.tables[table]), keys
        chosen = set(relevant)
        units = [u for u in self._units if u[0] in chosen]
        unit_df = self.spark.createDataFrame(units, UNIT_SCHEMA).repartition(min(len(units), self._tasks))
        broadcast = self._broadcast

        def run(batches):
            return decode_units(broadcast.value, only=table)(batches)

        return unit_df.mapInArrow(run, plan.tables[table]), keys

    def _staged(self, table: str) -> DataFrame:
        path = objects.join(self.staging, f"_table={table}")
        try:
            return self.spark.read.schema(_without_table(self._envelope_or_meta())).parquet(path)
        except Exception as err:  # no rows of that table were staged
            if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
                return self.spark.createDataFrame([], _without_table(self._envelope_or_meta()))
            raise

    def _envelope_or_meta(self):
        return getattr(self, "_envelope", None) or Plan().envelope()

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

    def _commit(self, plan: Plan, ok: list[InputStatus]) -> dict[str, dict[str, Any]]:
        warehouse.ensure_database(self.spark, self.args.catalog_name, self.args.database)
        sources_by_format = [s.uri for s in ok]
        vehicles = sorted({s.vehicle_id for s in ok if s.vehicle_id})
        good = set(sources_by_format)
        if not good:
            return {}

        def commit(table: str) -> tuple[str, warehouse.Committed | None]:
            name = warehouse.ident(self.args.catalog_name, self.args.database, table)
            relevant = [s.uri for s in ok if table in _tables_of(plan, s)]
            if not relevant:
                return table, None
            keys = None
            if table in STAGED_TABLES:
                staged = self._staged(table).where(F.col("_source").isin(list(good)))
                rows = staged.select(*staged_columns(table, plan.tables[table]))
            else:
                rows, keys = self._decoded(plan, table, relevant)
            done = warehouse.replace_sources(
                self.spark, name, rows, relevant, vehicles, self.args.run_id, self.warehouse, keys
            )
            return table, done

        results: dict[str, dict[str, Any]] = {}
        with ThreadPoolExecutor(COMMIT_THREADS) as pool:
            for table, done in pool.map(commit, sorted(plan.tables)):
                if done is not None:
                    results[table] = done.manifest()
                    self._log(f"committed {table}: {done.rows} rows, snapshot {done.snapshot_id}")
        return results

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


@dataclass
class DirectCan:
    """What the CAN tasks returned: per unit its files and unknown-id rows, or its error."""

    name: str
    target: Any
    results: list[dict[str, Any]]

    @property
    def errors(self) -> dict[str, tuple[str, str]]:
        errors: dict[str, tuple[str, str]] = {}
        for r in self.results:
            if "error" in r:
                errors.setdefault(r["uri"], tuple(r["error"]))
        return errors

    def files_of(self, chosen: set[str]) -> list[Any]:
        return [f for r in self.results if r["uri"] in chosen for f in r.get("files", [])]

    def files_outside(self, chosen: set[str]) -> list[Any]:
        return [f for r in self.results if r["uri"] not in chosen for f in r.get("files", [])]

    def unknown_rows(self, chosen: set[str]) -> list[dict[str, Any]]:
        return [row for r in self.results if r["uri"] in chosen for row in r.get("unknown", [])]

    def unknown_counts(self, chosen: set[str]) -> dict[str, int]:
        counts: dict[tuple[int, int], int] = {}
        for row in self.unknown_rows(chosen):  # every reason, as can_unknown_ids counts them
            key = (row["bus"], row["address"])
            counts[key] = counts.get(key, 0) + row["frames"]
        return {f"{bus}:0x{address:X}": n for (bus, address), n in sorted(counts.items())}


def _bounded_memory(spark: SparkSession) -> None:
    """Settings that keep memory flat when single rows are megabytes (a point cloud, an image)."""
    # One open file per table and task instead of Spark's default of sorting every decoded
    # row by table before a partitioned write (a sort of the whole decoded volume).
    spark.conf.set("spark.sql.maxConcurrentOutputFileWriters", "256")
    # The vectorized reader decodes 4096 rows of nested arrays at once: gigabytes for clouds.
    spark.conf.set("spark.sql.parquet.enableNestedColumnVectorizedReader", "false")
    # Parquet checks its buffered size every 100 rows by default: 100 clouds is ~600 MB.
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set("parquet.page.size.row.check.min", "2")
    hadoop.set("parquet.page.size.row.check.max", "1000")


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
    entry = plan.files.get(status.uri)
    if entry is None:
        return set()
    return set(entry.tables.values())  # CAN's tables are committed by _commit_can


def _with_common(fields):
    from pyspark.sql.types import StructType

    return StructType([*COMMON_FIELDS, *fields.fields])


def _without_table(envelope):
    from pyspark.sql.types import StructType

    return StructType([f for f in envelope.fields if f.name != "_table"])


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
