"""Scaling of ``srlib.train`` with the number of processes (torchrun, DDP): patches/s.

Runs ``torchrun --standalone --nproc-per-node=N -m srlib.train`` for each N in
``--procs`` (default 1 and 2) with the same global batch, data, model and seed, and
measures the training patches per second of each epoch from the run's ``log.csv``
(``steps_per_epoch x batch / seconds``; there is no validation: ``--val-fraction 0``).
The first epoch of each run is dropped (warm-up); the median of the others is kept, and
the runs are interleaved over ``--repeats``.  Reported for each N: patches/s, the speed-up
over one process and the scaling efficiency ``speed-up / N`` (1.0: perfect).

On the CPU each process gets ``--threads`` threads (default 1), so N processes use N
cores; on CUDA each process one GPU (``--device cuda``; then N up to the GPU count).

Run from the repository root::

    python benchmarks/ddp_scaling.py --quick             # 10 T91 images, 3 epochs, 1 repeat
    python benchmarks/ddp_scaling.py --procs 1 2 --repeats 3
    python benchmarks/ddp_scaling.py --device cuda --procs 1 4 --images 91 --batch-size 512

Timings on a shared machine are noisy: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from srlib.models import build
from srlib.train import list_images, make_patches, resolve_data_dir


def _run(nproc: int, a, out: Path) -> list[float]:
    """patches/s of each epoch (after the first) of one torchrun run with ``nproc``."""
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "srlib.train", "--scale", "3",
           "--config", a.config, "--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
           "--max-images", str(a.images), "--val-fraction", "0", "--threads", str(a.threads),
           "--device", a.device, "--out", str(out), "--no-progress"]
    if a.data:
        cmd += ["--data", a.data]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    with open(out / "log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    steps = [int(r["step"]) for r in rows]
    per_epoch = [b - a_ for a_, b in zip([0, *steps], steps, strict=False)]
    return [n * a.batch_size / float(r["seconds"]) for n, r in zip(per_epoch, rows,
                                                                     strict=True)][1:]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10 images, 3 epochs, 1 repeat")
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--images", type=int, default=20, help="first N T91 images")
    p.add_argument("--epochs", type=int, default=4, help="per run; the first is dropped")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128, help="global batch")
    p.add_argument("--config", default="9-5-5")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per process")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None)
    p.add_argument("--json", default=None, help="save the results to this file")
    a = p.parse_args(argv)
    if a.quick:
        a.images, a.epochs, a.repeats = 10, 3, 1
    files = list_images(resolve_data_dir(a.data))[:a.images]
    n = len(make_patches(files, 3, shrink=build(a.config).shrink)[0])
    print(f"SRCNN {a.config} x3, {n} sub-images from {len(files)} images, global batch "
          f"{a.batch_size}, {a.device}, {a.threads} thread(s) per process, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}")
    speeds: dict[int, list[float]] = {k: [] for k in a.procs}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.repeats):
            for k in a.procs:
                t0 = time.perf_counter()
                s = _run(k, a, Path(tmp) / f"r{rep}-n{k}")
                speeds[k] += s
                print(f"  repeat {rep + 1}, {k} process(es): {statistics.median(s):8.1f} "
                      f"patches/s ({time.perf_counter() - t0:.0f} s with start-up)")
    med = {k: statistics.median(v) for k, v in speeds.items()}
    print(f"\n{'processes':>9s} {'patches/s':>10s} {'speed-up':>9s} {'efficiency':>11s}")
    rows = []
    for k in a.procs:
        up = med[k] / med[a.procs[0]] * a.procs[0]
        rows.append(dict(processes=k, patches_per_s=med[k], speedup=up, efficiency=up / k))
        print(f"{k:9d} {med[k]:10.1f} {up:9.2f} {up / k:11.2f}")
    result = dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                  torch=torch.__version__, device=a.device, threads=a.threads,
                  config=a.config, images=len(files), patches=n, batch_size=a.batch_size,
                  epochs=a.epochs, repeats=a.repeats, rows=rows,
                  date=time.strftime("%Y-%m-%d"))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
