"""A stand-in training job: a few epochs of a tiny linear model fitted by gradient descent.

It behaves like a real job where the platform can see it: logs per epoch, honours
DRIVETRAIN_* variables, checkpoints to DRIVETRAIN_CHECKPOINT_DIR and resumes from there
after a preemption, and exits 0 on success.
"""

import json
import os
import random
import sys
import time
from pathlib import Path

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
checkpoint_dir = Path(os.environ.get("DRIVETRAIN_CHECKPOINT_DIR", ".drivetrain/checkpoints")) / os.environ.get(
    "DRIVETRAIN_JOB_ID", "adhoc"
)
checkpoint = checkpoint_dir / "state.json"

rng = random.Random(7)
data = [(x, 3.0 * x + 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(256))]
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
    checkpoint.write_text(json.dumps(state))
    time.sleep(0.4)
print(f"done: w={state['w']:.3f} b={state['b']:.3f}", flush=True)
