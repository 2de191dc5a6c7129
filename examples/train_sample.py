"""A stand-in training job: a few epochs of a tiny linear model fitted by gradient descent.

It behaves like a real job where the platform can see it: logs per epoch, honours
DRIVETRAIN_* variables, checkpoints to DRIVETRAIN_CHECKPOINT_DIR after every epoch and
resumes from there on its next attempt (after a preemption, a spot reclaim or a crash of the
platform), stops cleanly on SIGTERM, and exits 0 on success.

Usage: train_sample.py [epochs] [seconds per epoch]
"""

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
epoch_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.4
# The platform gives every attempt of a job the same directory; run by hand, a local one.
checkpoint_dir = Path(
    os.environ.get("DRIVETRAIN_CHECKPOINT_DIR")
    or Path(".drivetrain/checkpoints") / os.environ.get("DRIVETRAIN_JOB_ID", "adhoc")
)
checkpoint = checkpoint_dir / "state.json"

stopping = False


def stop(signum, frame):
    # Preemption: the platform sends SIGTERM, then SIGKILL after a grace period.
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)

rng = random.Random(7)
data = [
    (x, 3.0 * x + 1.0 + rng.gauss(0, 0.1))
    for x in (rng.uniform(-1, 1) for _ in range(256))
]
state = {"epoch": 0, "w": 0.0, "b": 0.0}
if checkpoint.exists():
    state = json.loads(checkpoint.read_text())
    print(f"resuming from epoch {state['epoch']}", flush=True)

print(
    f"job {os.environ.get('DRIVETRAIN_JOB_ID', '?')} attempt {os.environ.get('DRIVETRAIN_ATTEMPT', '?')} "
    f"node {os.environ.get('DRIVETRAIN_NODE_INDEX', '0')}/{os.environ.get('DRIVETRAIN_NUM_NODES', '1')} "
    f"GPUs {os.environ.get('CUDA_VISIBLE_DEVICES', 'none')}",
    flush=True,
)
for epoch in range(state["epoch"], epochs):
    w, b = state["w"], state["b"]
    grad_w = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    grad_b = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    state = {"epoch": epoch + 1, "w": w - 0.5 * grad_w, "b": b - 0.5 * grad_b}
    loss = sum((state["w"] * x + state["b"] - y) ** 2 for x, y in data) / len(data)
    print(f"epoch {epoch + 1}/{epochs} loss {loss:.4f}", flush=True)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: a kill mid-write never leaves a torn checkpoint.
    partial = checkpoint.with_suffix(".tmp")
    partial.write_text(json.dumps(state))
    partial.replace(checkpoint)
    if stopping:
        print(f"stopping at epoch {epoch + 1}: checkpoint saved", flush=True)
        sys.exit(143)
    time.sleep(epoch_seconds)
print(f"done: w={state['w']:.3f} b={state['b']:.3f}", flush=True)
