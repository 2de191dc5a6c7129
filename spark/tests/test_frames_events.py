"""Frames (as-of samples at a fixed rate) and events (hard braking) from a drive's CAN speed."""

import numpy as np
import pyarrow as pa
import pytest

from drivetrain_spark import can

T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z


def speed_profile(t: np.ndarray) -> np.ndarray:
    """m/s: cruise at 20, brake at 5 m/s^2 from 10 s to 12 s, cruise at 10, ease off at 1 m/s^2."""
    v = np.where(t < 10, 20.0, np.where(t < 12, 20.0 - 5 * (t - 10), 10.0))
    return np.where((t >= 25) & (t < 28), 10.0 - (t - 25), np.where(t >= 28, 7.0, v))


@pytest.fixture
def braking_drive(sensor_data, tmp_path):
    dbc = str(sensor_data / "dbc" / "toyota_new_mc_pt.dbc")
    speed = can.load_dbc(dbc).get_message_by_name("SPEED")
    t = np.arange(0, 30, 0.02)
    t = t[(t < 20) | (t >= 21)]  # the logger dropped a second of frames
    payloads = [
        speed.encode({"ENCODER": 0, "SPEED": round(v * 3.6, 2), "CHECKSUM": 0}) for v in speed_profile(t)
    ]
    table = pa.table(
        {
            "t": pa.array(T0 + np.round(t * 1e9).astype(np.int64)),
            "address": pa.array([speed.frame_id] * len(t), pa.int64()),
            "data": pa.array(payloads, pa.binary()),
            "bus": pa.array([0] * len(t), pa.int32()),
        }
    )
    raw = tmp_path / "raw" / "car-3" / "2024-01-01--00-00-00" / "can.can.parquet"
    can.write_frames(table, str(raw))
    config = {
        "dbc": dbc,
        "frames": {
            "rateHz": 10,
            "toleranceMs": 100,
            "columns": [{"name": "speed_kph", "table": "can_signals", "message": "SPEED", "signal": "SPEED"}],
        },
        "events": {
            "hardBraking": {
                "speed": {"table": "can_signals", "message": "SPEED", "signal": "SPEED", "scale": 1 / 3.6},
                "thresholdMps2": 3.0,
                "minDurationS": 0.3,
                "windowS": 0.5,
            }
        },
    }
    return [{"uri": raw.as_uri(), "bytes": raw.stat().st_size}], config


def test_braking_drive_gives_one_hard_braking_event_and_frames_at_the_rate(braking_drive, ingest):
    inputs, config = braking_drive
    manifest = ingest(inputs, config=config)

    # Events: hard braking is tagged once, the gentle 1 m/s^2 slow-down at 25 s is not.
    assert manifest["tables"]["events"]["rows"] == 1
    event = ingest.table("events").first()
    start = (event.log_time_ns - T0) / 1e9
    end = (event.end_time.timestamp() * 1e9 - T0) / 1e9
    # The trailing 0.5 s window sees >= 3 m/s^2 from 10.3 s to 12.2 s; the event starts at the
    # window's start. Peak: the true 5 m/s^2, within the 0.01 km/h quantisation.
    assert event.event_type == "hard_braking" and event.signal == "SPEED"
    assert 9.7 <= start <= 10.1 and 12.0 <= end <= 12.3
    assert event.peak_decel_mps2 == pytest.approx(5.0, abs=0.05)
    assert event.speed_start_mps == pytest.approx(20.0, abs=0.01)
    assert event.speed_end_mps == pytest.approx(10.0, abs=0.3)
    assert (event.vehicle_id, event.drive_id) == ("car-3", "2024-01-01--00-00-00")

    # Frames: one row per 100 ms tick, each the as-of speed within the 100 ms tolerance.
    rows = ingest.table("frames").orderBy("sample_index").collect()
    assert manifest["tables"]["frames"]["rows"] == len(rows) == 300  # 0.00 .. 29.90 s at 10 Hz
    ticks = np.array([(r.log_time_ns - T0) / 1e9 for r in rows])
    assert np.allclose(np.diff(ticks), 0.1)
    by_time = {round(t, 1): r.speed_kph for t, r in zip(ticks, rows, strict=True)}
    assert by_time[5.0] == pytest.approx(72.0)
    assert by_time[11.0] == pytest.approx(speed_profile(np.array([11.0]))[0] * 3.6, abs=0.02)
    # Frames stop at 19.98 s and resume at 21.00 s: ticks more than 100 ms after the last frame
    # before them have no value; the tick at 20.0 s still sees the frame 20 ms earlier.
    assert by_time[20.0] is not None
    assert all(by_time[round(t, 1)] is None for t in np.arange(20.1, 21.0, 0.1))
    assert by_time[21.0] == pytest.approx(36.0)
    assert {r.rate_hz for r in rows} == {10.0}
    assert {r.source_uri for r in rows} == {"drivetrain:frames/car-3/2024-01-01--00-00-00"}
