"""CAN decoding: vectorised DBC decoding against cantools and against comma.ai's own decode."""

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from drivetrain_spark import can


@pytest.fixture(scope="module")
def comma(comma_segment):
    table, offset = can.comma2k19_frames(str(comma_segment))
    return table, offset


def test_dbc_imports_are_followed_and_the_importer_overrides(dbc):
    database = can.load_dbc(dbc)
    names = {m.name for m in database.messages}
    assert {"SPEED", "WHEEL_SPEEDS"} <= names  # from _toyota_2017.dbc
    assert "ACC_CONTROL" in names  # from _toyota_adas_standard.dbc
    # toyota_new_mc_pt.dbc itself defines BRAKE_MODULE with BRAKE_PRESSURE at 43|12.
    brake = database.get_message_by_name("BRAKE_MODULE").get_signal_by_name("BRAKE_PRESSURE")
    assert (brake.start, brake.length) == (43, 12)


def test_vectorised_decoding_matches_cantools_frame_by_frame(comma, dbc):
    table, _ = comma
    database = can.load_dbc(dbc)
    blocks, _ = can.decode_frames(table, can.compile_dbc(dbc, None))
    address = table.column("address").to_numpy()
    payloads = table.column("data").to_pylist()
    rng = np.random.default_rng(7)
    checked = 0
    for block in blocks:
        message = database.get_message_by_frame_id(block["address"])
        if message.name == "PCS_HUD":
            continue  # its DBC signals overlap (SET_ME_X10, PCS_TEMP): cantools refuses to decode it
        rows = np.nonzero(address == block["address"])[0]
        for k in rng.choice(len(rows), size=min(20, len(rows)), replace=False):
            payload = payloads[rows[k]].ljust(message.length, b"\0")[: message.length]
            expected = message.decode(payload, decode_choices=False, allow_truncated=True)
            if block["signal"] in expected:
                assert block["value"][k] == pytest.approx(expected[block["signal"]], abs=1e-9)
                checked += 1
    assert checked > 3000


def test_little_endian_signed_and_multiplexed_signals_match_cantools():
    import cantools

    database = cantools.database.load_string(
        'VERSION ""\nBS_:\nBU_: ECU\n'
        "BO_ 100 MIXED: 8 ECU\n"
        ' SG_ TEMP : 0|12@1- (0.1,-40) [-200|200] "degC" ECU\n'
        ' SG_ RATE : 12|20@1+ (0.001,0) [0|1000] "rad/s" ECU\n'
        ' SG_ MOTOR : 39|16@0- (1,0) [-32768|32767] "" ECU\n'
        "BO_ 200 MUXED: 8 ECU\n"
        ' SG_ MODE M : 0|4@1+ (1,0) [0|15] "" ECU\n'
        ' SG_ A m1 : 8|16@1+ (0.5,0) [0|1000] "V" ECU\n'
        ' SG_ B m2 : 8|16@1- (1,0) [-1000|1000] "A" ECU\n',
        database_format="dbc",
    )
    rng = np.random.default_rng(11)
    frames, expected = [], []
    for _ in range(500):
        values = {"TEMP": rng.integers(-2000, 1600) / 10, "RATE": rng.integers(0, 10**6) / 1000}
        values["MOTOR"] = int(rng.integers(-32768, 32767))
        frames.append((100, database.encode_message(100, values)))
        expected.append((100, values))
        mode = int(rng.integers(1, 3))
        muxed = (
            {"MODE": mode, "A": rng.integers(0, 2000) / 2}
            if mode == 1
            else {"MODE": 2, "B": int(rng.integers(-1000, 1000))}
        )
        frames.append((200, database.encode_message(200, muxed)))
        expected.append((200, muxed))
    table = pa.table(
        {
            "t": pa.array(np.arange(len(frames), dtype=np.int64) * 1_000_000),
            "address": pa.array([a for a, _ in frames], pa.int64()),
            "data": pa.array([d for _, d in frames], pa.binary()),
            "bus": pa.array([0] * len(frames), pa.int32()),
        }
    )
    plans = {
        m.frame_id: can.MessagePlan(
            m.frame_id, m.name, m.length, tuple(can._signal_plan(s) for s in m.signals)
        )
        for m in database.messages
    }
    blocks, unknown = can.decode_frames(table, plans)
    assert not unknown
    decoded: dict[tuple[int, str], dict] = {}
    for block in blocks:
        for t, v in zip(block["t_ns"].tolist(), block["value"].tolist(), strict=True):
            decoded.setdefault((t // 1_000_000, block["signal"]), v)
    for i, (_, values) in enumerate(expected):
        for name, value in values.items():
            assert decoded[(i, name)] == pytest.approx(value, abs=1e-6), (i, name)
    # A multiplexed signal appears only in frames whose selector names it.
    assert not any((i, "B") in decoded for i, (_, v) in enumerate(expected) if v.get("MODE") == 1)


def test_speed_from_raw_frames_agrees_with_comma_after_alignment(
    spark, comma, dbc, tmp_path, ingest, comma_segment
):
    """comma2k19's processed_log/CAN/speed is the mean of the four WHEEL_SPEEDS signals (0x0AA)
    in m/s, sampled at each WHEEL_SPEEDS frame. Our raw-frame decode, through the ingest job,
    moved to UTC by the converter, is moved back by the offset the converter recorded.

    Tolerances: time 1 us (both sides carry the same frame time; ours round-trips through int64
    ns and a float64 offset, < 1e-6 s error, while frames of one id are >= 12 ms apart, so a
    wrong pairing cannot pass); value 1e-6 m/s (both apply the DBC's 0.01 km/h scale and
    -67.67 km/h offset to the same integers: only float rounding, ~1e-12, separates them, far
    below the 0.0028 m/s quantum of the signal, so any bit-extraction error fails)."""
    table, offset = comma
    raw = tmp_path / "raw" / "rav4" / "2018-08-02--08-34-47" / "segment-40.can.parquet"
    can.write_frames(table, str(raw))
    manifest = ingest([{"uri": raw.as_uri(), "bytes": raw.stat().st_size}], config={"dbc": dbc})

    assert manifest["inputs"][0]["status"] == "ok", manifest["inputs"][0].get("detail")
    wheels = (
        ingest.table("can_signals")
        .where((F.col("message") == "WHEEL_SPEEDS") & F.col("signal").rlike("^WHEEL_SPEED_..$"))
        .groupBy("log_time_ns")
        .agg(F.avg("value").alias("kph"), F.count("*").alias("n"))
        .orderBy("log_time_ns")
        .collect()
    )
    assert all(r.n == 4 for r in wheels)
    ours_t = (np.array([r.log_time_ns for r in wheels]) - offset) / 1e9
    ours_v = np.array([r.kph for r in wheels]) / 3.6
    theirs_t = np.load(comma_segment / "processed_log/CAN/speed/t.npy")
    theirs_v = np.load(comma_segment / "processed_log/CAN/speed/value.npy")[:, 0]
    assert len(ours_t) == len(theirs_t) == 4974
    assert np.abs(ours_t - theirs_t).max() < 1e-6
    assert np.abs(ours_v - theirs_v).max() < 1e-6


def test_unknown_ids_are_counted_per_id_and_reported(spark, comma, dbc, tmp_path, ingest):
    table, _ = comma
    raw = tmp_path / "raw" / "rav4" / "d1" / "frames.can.parquet"
    can.write_frames(table, str(raw), row_group_size=40_000)  # several units per object
    manifest = ingest([{"uri": raw.as_uri(), "bytes": raw.stat().st_size}], config={"dbc": dbc})

    known = {m.frame_id for m in can.load_dbc(dbc).messages}
    address = table.column("address").to_numpy()
    bus = table.column("bus").to_numpy()
    expected = {}
    for b, a in zip(bus.tolist(), address.tolist(), strict=True):
        if a not in known:
            expected[f"{b}:0x{a:X}"] = expected.get(f"{b}:0x{a:X}", 0) + 1
    assert manifest["unknownCanIds"] == expected
    rows = ingest.table("can_unknown_ids").where("reason = 'unknown_id'").collect()
    assert {f"{r.bus}:0x{r.address:X}": r.frames for r in rows} == expected
    signals = manifest["tables"]["can_signals"]["rows"]
    assert signals == ingest.table("can_signals").count() > 300_000
