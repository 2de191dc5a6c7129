"""Sensor ETL benchmark (``npm run bench:etl``): the ingest job on large inputs built from real
messages, against the strongest cheap baseline a user has, measured in the same run.

- MCAP: the Ouster log's 273 real messages (point clouds, images, IMU, packets), repeated with
  shifted times into a zstd MCAP of ``--gb`` GB, converted by the ingest job (``local[2]``, a
  fresh process as the workflow runs it) into Iceberg. Baseline: the same file read by the
  ``mcap`` reader alone (``make_reader(f).iter_messages()``: decompress, check and frame every
  message, one Python process, the loop the mcap docs show), in this run. The job's rate is
  over its whole run (plan, decode and write every table's files, commit each table, write
  the manifest), from the run manifest's ``startedAt``/``finishedAt``: Spark's JVM start-up,
  once per run however many files, is excluded there and included in ``processSeconds``.
- CAN: comma2k19's 135,468 real frames repeated with shifted times into ``--can-frames`` frames
  (1M-frame row groups), decoded with the Toyota DBC through the same job into ``can_signals``.
- Scale: the MCAP job at each of ``--scale`` sizes; peak RSS is the whole process tree's
  (driver JVM with its local executors, Python workers), sampled every 100 ms.

Generated inputs live in a temporary directory and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[2]
SENSOR = REPO.parent / "shared" / "data" / "sensor"
OUSTER = SENSOR / "lidar" / "pointcloudset-ouster" / "ouster-os1-64.mcap"
COMMA = SENSOR / "comma2k19" / "b0c9d2329ad1606b_2018-08-02--08-34-47_40"
DBC = SENSOR / "dbc" / "toyota_new_mc_pt.dbc"


MEASURES = {
    "seconds": "wall seconds of the job's run, manifest startedAt to finishedAt: plan, decode and "
    "write every table's files, commit each table (Spark's JVM start-up excluded)",
    "processSeconds": "wall seconds of the job's process, launch to exit (JVM start-up included)",
    "cpuSeconds": "user + system CPU seconds of the job's process tree (JVM, Python workers)",
    "mbPerS": "input MB (compressed, as stored) / seconds",
    "msgsPerS": "input messages / seconds",
    "rawReadMbPerS": "input MB / wall seconds of the mcap reader iterating every message of the "
    "same file, one Python process, in this run",
    "framesPerS": "input CAN frames / seconds",
    "peakRssMb": "peak resident memory of the job's process tree, sampled every 100 ms",
    "stages": "CPU seconds, in the benchmark's process, of one write task's stages on the first "
    "units of a 0.1 GB MCAP: read (decompress, check CRCs, frame), read + decode into Arrow, and "
    "the whole task (also Parquet files with zstd and the checksum)",
}


def build_mcap(target: Path, size_bytes: int) -> int:
    """Repeats the Ouster log's messages, times shifted by whole log durations, until the file
    reaches size_bytes. Returns the message count."""
    from mcap.reader import make_reader
    from mcap.writer import CompressionType, Writer

    with open(OUSTER, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        messages = [(c.id, m.log_time, m.publish_time, m.data) for _, c, m in reader.iter_messages()]
    span = summary.statistics.message_end_time - summary.statistics.message_start_time + 1_000_000
    count = 0
    with open(target, "wb") as out:
        writer = Writer(out, compression=CompressionType.ZSTD, chunk_size=4 << 20)
        writer.start("ros1", "drivetrain-bench")
        schema_ids = {
            sid: writer.register_schema(s.name, s.encoding, s.data) for sid, s in summary.schemas.items()
        }
        channel_ids = {
            cid: writer.register_channel(c.topic, c.message_encoding, schema_ids[c.schema_id])
            for cid, c in summary.channels.items()
        }
        copy = 0
        while out.tell() < size_bytes:
            shift = copy * span
            for cid, log_time, publish_time, data in messages:
                writer.add_message(channel_ids[cid], log_time + shift, data, publish_time + shift)
            count += len(messages)
            copy += 1
        writer.finish()
    return count


def build_can(target: Path, frames: int) -> int:
    from drivetrain_spark import can

    table, _ = can.comma2k19_frames(str(COMMA))
    t = table.column("t").cast(pa.int64()).to_numpy()
    span = int(t.max() - t.min()) + 10_000_000
    import pyarrow.parquet as pq

    copies = -(-frames // table.num_rows)
    schema = table.schema
    with pq.ParquetWriter(str(target), schema, compression="zstd") as writer:
        for i in range(copies):
            shifted = table.set_column(0, "t", pa.array(t + i * span).cast(schema.field("t").type))
            writer.write_table(shifted, row_group_size=1 << 20)
    return copies * table.num_rows


def raw_read(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds for the mcap reader alone to read every message of the file."""
    from mcap.reader import make_reader

    start, cpu = time.monotonic(), time.process_time()
    count = 0
    with open(path, "rb") as f:
        for _ in make_reader(f).iter_messages():
            count += 1
    return time.monotonic() - start, time.process_time() - cpu, count


class PeakRss:
    """Peak resident memory of a process and its descendants, and the CPU seconds they used
    (each process's last sampled user + system time: the machine may be shared, so CPU time
    is the load-independent cost)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += p.memory_info().rss
                        times = p.cpu_times()
                        self.cpu[p.pid] = times.user + times.system
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1)

    def result_mb(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak / 2**20

    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def run_job(work: Path, name: str, inputs: list[Path], config: dict | None = None) -> dict:
    """The ingest job in its own process, as the local workflow runs it."""
    run = work / "runs" / name
    run.mkdir(parents=True)
    listing = run / "inputs.json"
    listing.write_text(json.dumps([{"uri": p.as_uri(), "bytes": p.stat().st_size} for p in inputs]))
    manifest = run / "manifest.json"
    argv = [
        sys.executable, "-m", "drivetrain_spark.jobs.ingest",
        "--run-id", name, "--inputs", str(listing),
        "--warehouse", (run / "warehouse").as_uri(), "--catalog-type", "hadoop",
        "--catalog-name", "bench", "--database", "sensor",
        "--quarantine", (run / "quarantine").as_uri(), "--manifest", manifest.as_uri(),
        "--master", "local[2]",
    ]  # fmt: skip
    if config:
        argv += ["--config", json.dumps(config)]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    with open(run / "job.log", "w") as log:
        launched = time.monotonic()
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        rss = PeakRss(child.pid)
        code = child.wait()
        process_seconds = time.monotonic() - launched
    peak = rss.result_mb()
    cpu = rss.cpu_seconds()
    if code != 0:
        raise RuntimeError(f"ingest {name} failed ({code}); see {run / 'job.log'}")
    result = json.loads(manifest.read_text())
    seconds = (_parse(result["finishedAt"]) - _parse(result["startedAt"])).total_seconds()
    failed = [i for i in result["inputs"] if i["status"] != "ok"]
    if failed:
        raise RuntimeError(f"ingest {name} quarantined inputs: {failed}")
    shutil.rmtree(run / "warehouse", ignore_errors=True)
    return {
        "seconds": seconds,
        "processSeconds": round(process_seconds, 1),
        "cpuSeconds": round(cpu, 1),
        "peakRssMb": round(peak, 1),
        "manifest": result,
        "log": str(run / "job.log"),
    }


def cpu_line(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares fixed + slope x MB through (MB, CPU seconds); the worst relative residual."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    n = len(points)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    fixed = mean_y - slope * mean_x
    worst = max(abs(y - (fixed + slope * x)) / y for x, y in points)
    return fixed, slope, worst


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="drivetrain_spark.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--gb", type=float, default=1.0, help="MCAP size for the conversion figure")
    parser.add_argument("--scale", default="0.25,0.5,1", help="MCAP sizes (GB) for the scale runs")
    parser.add_argument("--can-frames", type=int, default=50_000_000)
    parser.add_argument("--work", default=None, help="directory for generated inputs (default: a temp dir)")
    parser.add_argument(
        "--stages-only",
        action="store_true",
        help="only where one MCAP write task's CPU goes, in-process, on a 0.1 GB MCAP",
    )
    parser.add_argument(
        "--only", choices=("mcap", "can"), default=None, help="measure one input kind (the other is left out)"
    )
    args = parser.parse_args(argv)
    if args.stages_only:
        return _stages_only(args)
    work = Path(args.work or tempfile.mkdtemp(prefix="drivetrain-bench-etl-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted({float(x) for x in args.scale.split(",")} | {args.gb}) if args.only != "can" else []
    result: dict = {}
    try:
        files: dict[float, tuple[Path, int]] = {}
        for gb in sizes:
            path = work / "raw" / "bench-car" / f"drive-{gb:g}gb" / "log.mcap"
            path.parent.mkdir(parents=True, exist_ok=True)
            count = build_mcap(path, int(gb * 1e9))
            files[gb] = (path, count)
            print(
                f"[bench] built {path.name}: {path.stat().st_size / 1e6:.0f} MB, {count} messages", flush=True
            )
        scale = []
        for gb in sizes:
            path, count = files[gb]
            job = run_job(work, f"mcap-{gb:g}gb", [path])
            mb = path.stat().st_size / 1e6
            scale.append(
                {
                    "gb": round(path.stat().st_size / 1e9, 3),
                    "mbPerS": round(mb / job["seconds"], 2),
                    "seconds": round(job["seconds"], 1),
                    "processSeconds": job["processSeconds"],
                    "cpuSeconds": job["cpuSeconds"],
                    "mbPerCpuS": round(mb / job["cpuSeconds"], 2),
                    "peakRssMb": job["peakRssMb"],
                    "messages": count,
                }
            )
            print(f"[bench] mcap {gb:g} GB: {scale[-1]}", flush=True)
        if sizes:
            result.update(_mcap_results(args, files, scale))
        if args.only != "mcap":
            result["can"] = _can_results(work, args.can_frames)
        result["machine"] = {
            "cores": os.cpu_count(),
            "sparkMaster": "local[2]",
            "loadAverage": list(os.getloadavg()),
        }
        result["measures"] = MEASURES
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return result
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def _mcap_results(args: argparse.Namespace, files: dict[float, tuple[Path, int]], scale: list[dict]) -> dict:
    main_path, main_count = files[args.gb]
    main_run = next(s for s in scale if s["messages"] == main_count)
    raw_seconds, raw_cpu, raw_count = raw_read(main_path)
    assert raw_count == main_count
    mb = main_path.stat().st_size / 1e6
    mcap = {
        "file": {"mb": round(mb, 1), "messages": main_count, "source": str(OUSTER.relative_to(SENSOR))},
        "mbPerS": main_run["mbPerS"],
        "msgsPerS": round(main_count / main_run["seconds"], 1),
        "rawReadMbPerS": round(mb / raw_seconds, 2),
        "ratioToRawRead": round(main_run["mbPerS"] / (mb / raw_seconds), 3),
        "goalRatio": 0.5,
        "peakRssMb": main_run["peakRssMb"],
        "seconds": main_run["seconds"],
        "rawReadSeconds": round(raw_seconds, 2),
        "mbPerCpuS": main_run["mbPerCpuS"],
        "rawReadMbPerCpuS": round(mb / raw_cpu, 2),
        "loadAverage": list(os.getloadavg()),
    }
    print(f"[bench] mcap: {mcap}", flush=True)
    for path, _ in files.values():
        path.unlink()
    seconds_per_gb = [s["seconds"] / s["gb"] for s in scale]
    fixed, per_mb, worst = cpu_line([(s["gb"] * 1e3, s["cpuSeconds"]) for s in scale])
    return {
        "mcap": mcap,
        "scale": scale,
        "linearity": {
            "secondsPerGb": [round(x, 1) for x in seconds_per_gb],
            "maxOverMinSecondsPerGb": round(max(seconds_per_gb) / min(seconds_per_gb), 3),
            # CPU seconds = fixed + perMb x MB, least squares over the sizes; worst relative
            # residual says how straight the line is (load-independent, unlike wall time).
            "cpuFixedSeconds": round(fixed, 1),
            "cpuSecondsPerMb": round(per_mb, 4),
            "marginalMbPerCpuS": round(1 / per_mb, 2) if per_mb > 0 else None,
            "cpuLineWorstResidual": round(worst, 4),
            "maxOverMinPeakRss": round(
                max(s["peakRssMb"] for s in scale) / min(s["peakRssMb"] for s in scale), 3
            ),
        },
    }


def _can_results(work: Path, can_frames: int) -> dict:
    can_path = work / "raw" / "bench-car" / "drive-can" / "frames.can.parquet"
    can_path.parent.mkdir(parents=True, exist_ok=True)
    frames = build_can(can_path, can_frames)
    print(f"[bench] built {can_path.name}: {frames} frames", flush=True)
    job = run_job(work, "can", [can_path], {"dbc": str(DBC)})
    can_result = {
        "frames": frames,
        "framesPerS": round(frames / job["seconds"]),
        "goalFramesPerS": 1_000_000,
        "signalRows": job["manifest"]["tables"]["can_signals"]["rows"],
        "seconds": round(job["seconds"], 1),
        "processSeconds": job["processSeconds"],
        "cpuSeconds": job["cpuSeconds"],
        "framesPerCpuS": round(frames / job["cpuSeconds"]),
        "peakRssMb": job["peakRssMb"],
    }
    print(f"[bench] can: {can_result}", flush=True)
    return can_result


def task_stages(path: Path, work: Path, units: int = 2) -> dict:
    """CPU seconds of the job's write task on the first units of one MCAP, in this process: its
    read alone, read and decode into Arrow tables, and the whole task (``decode.write_units``'
    work: also the Parquet files, zstd, and their checksums). Tables come from a local catalog."""
    from pyspark.sql import SparkSession

    from drivetrain_spark import datafiles, decode, messages, sources, warehouse
    from drivetrain_spark.session import catalog_conf, local_builder
    from drivetrain_spark.tables import CURATED, table_for_type, with_common

    builder = local_builder(SparkSession.builder.appName("drivetrain-bench-stages"), "local[1]")
    for key, value in catalog_conf("hadoop", "stages", (work / "warehouse").as_uri()).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    file_plan = sources.plan(path.resolve().as_uri(), "mcap")
    tables = {cid: table_for_type(ch.schema.name) for cid, ch in file_plan.channels.items()}
    warehouse.ensure_database(spark, "stages", "sensor")
    targets = {}
    for cid, table in tables.items():
        fields = messages.load(file_plan.channels[cid].schema).fields
        schema = CURATED[table].schema if table in CURATED else with_common(fields)
        name = warehouse.ident("stages", "sensor", table)
        warehouse.ensure_table(spark, name, schema)
        targets[table] = datafiles.target_for(spark, name, "stages")
    spark.stop()
    entry = decode.FileEntry(file_plan.uri, "bench-car", "drive", file_plan.channels, tables)
    schemas = {t: datafiles.arrow_schema(target.schema_json) for t, target in targets.items()}
    chosen = file_plan.units[:units]

    def read() -> None:
        for unit in chosen:
            for _ in sources.read(unit, entry.channels):
                pass

    def decoded() -> None:
        types: dict = {}
        for unit in chosen:
            for _ in decode.unit_tables(unit, entry, schemas, types):
                pass

    def whole() -> None:
        types: dict = {}
        for unit in chosen:
            result = datafiles.write_unit(unit.uri, decode.unit_tables(unit, entry, schemas, types), targets)
            if "error" in result:
                raise RuntimeError(f"unit failed: {result['error']}")

    mb = sum(u.length for u in chosen) / 1e6
    result: dict = {"units": len(chosen), "mb": round(mb, 1)}
    for label, stage in (("read", read), ("readAndDecode", decoded), ("wholeTask", whole)):
        cpu = time.process_time()
        stage()
        seconds = time.process_time() - cpu
        result[f"{label}CpuSeconds"] = round(seconds, 2)
        result[f"{label}MbPerCpuS"] = round(mb / seconds, 1)
    return result


def _stages_only(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="drivetrain-bench-etl-", dir=args.work) as work:
        path = Path(work) / "raw" / "bench-car" / "drive" / "log.mcap"
        path.parent.mkdir(parents=True)
        build_mcap(path, 100_000_000)
        result = {
            "stages": {"mcap": task_stages(path, Path(work))},
            "machine": {"cores": os.cpu_count(), "loadAverage": list(os.getloadavg())},
            "measures": {"stages": MEASURES["stages"]},
        }
    print(f"[bench] stages: {result['stages']}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
