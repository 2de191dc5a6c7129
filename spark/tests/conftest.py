import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def sensor_data() -> Path:
    path = SHARED_DATA / "sensor"
    if not path.is_dir():
        pytest.fail(f"shared sensor data not found at {path}; clone Drivetrain next to shared/")
    return path


@pytest.fixture(scope="session")
def comma_segment(sensor_data) -> Path:
    """One real comma2k19 segment: raw CAN frames and comma.ai's own decoded speed."""
    return sensor_data / "comma2k19" / "b0c9d2329ad1606b_2018-08-02--08-34-47_40"


@pytest.fixture(scope="session")
def dbc(sensor_data) -> str:
    """The Toyota DBC of that segment's car (with its CM_ "IMPORT" lines)."""
    return str(sensor_data / "dbc" / "toyota_new_mc_pt.dbc")


@pytest.fixture(scope="session")
def spark():
    """One local[2] session for the suite, with the Iceberg runtime and small shuffles."""
    from pyspark.sql import SparkSession

    from drivetrain_spark.session import local_builder

    session = (
        local_builder(SparkSession.builder.appName("drivetrain-tests"), "local[2]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture
def raw_drive(tmp_path):
    """Copies shared files into tmp_path/raw/<vehicle>/<drive>/, the raw bucket layout."""

    def place(vehicle: str, drive: str, *files: Path) -> list[dict]:
        folder = tmp_path / "raw" / vehicle / drive
        folder.mkdir(parents=True, exist_ok=True)
        placed = []
        for f in files:
            target = folder / f.name
            shutil.copyfile(f, target)
            placed.append({"uri": target.as_uri(), "bytes": target.stat().st_size})
        return placed

    return place


_catalogs = iter(range(1_000_000))


@pytest.fixture
def ingest(spark, tmp_path):
    """Runs the ingest job's main on a warehouse under tmp_path; returns the manifest.
    Each test gets its own catalog name (Spark keeps a catalog's first warehouse for good);
    ``ingest.table(name)`` reads one of its tables."""
    import json

    from drivetrain_spark.jobs.ingest import main

    catalog = f"t{next(_catalogs)}"

    def run(inputs: list[dict], run_id: str = "run-1", config: dict | None = None) -> dict:
        listing = tmp_path / f"{run_id}-inputs.json"
        listing.write_text(json.dumps(inputs))
        argv = [
            "--run-id", run_id,
            "--inputs", str(listing),
            "--warehouse", (tmp_path / "warehouse").as_uri(),
            "--catalog-type", "hadoop",
            "--catalog-name", catalog,
            "--database", "sensor",
            "--quarantine", (tmp_path / "quarantine").as_uri(),
            "--manifest", (tmp_path / "runs" / run_id / "manifest.json").as_uri(),
        ]  # fmt: skip
        if config is not None:
            argv += ["--config", json.dumps(config)]
        manifest = main(argv, spark=spark)
        written = json.loads((tmp_path / "runs" / run_id / "manifest.json").read_text())
        assert written == manifest
        return manifest

    run.catalog = catalog
    run.table = lambda name: spark.table(f"{catalog}.sensor.{name}")
    return run
