from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="session")
def sensor_data() -> Path:
    path = SHARED_DATA / "sensor"
    if not path.is_dir():
        pytest.fail(f"shared sensor data not found at {path}; clone Drivetrain next to shared/")
    return path
