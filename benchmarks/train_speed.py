"""Training speed of ``srlib.train`` vs a common PyTorch training loop, and SRCNN inference time.

Compared, on the same machine, interleaved, same model size (SRCNN 9-5-5, 57,281
parameters), same T91 x3 sub-images (33x33, stride 14), same batch size (16), same
optimiser (Adam, 1e-4 and 1e-5 for the last layer) and one epoch each:

* **reference**: the loop most tutorials write: ``padding="same"`` SRCNN (zero padding,
  loss on the whole 33x33 patch), a ``Dataset`` of per-patch numpy arrays, a
  ``DataLoader(batch_size=16, shuffle=True)``, and a host-to-device copy every step;
* **srlib**: :func:`srlib.train.train` (``padding="valid"``, loss on the centre 17x17,
  all patches in one device tensor, ``randperm`` batches, channels_last).

Reported: training patches per second (median over the repeats; ratio = srlib /
reference, target >= 2x on a CPU), and the validation PSNR (Y, held-out T91 images,
``crop_border = 3``) after each epoch, which must be equal or better for srlib.  Also the
inference time of :func:`srlib.models.upscale` per output megapixel at x3.

Run from the repository root (T91 as shipped with srlib, or ``--data`` / ``$SRLIB_DATA_DIR``)::

    python benchmarks/train_speed.py --quick          # 20 images, 2 repeats, ~1 minute
    python benchmarks/train_speed.py --threads 2      # all of T91, 3 repeats, ~10 minutes

Timings on a shared machine are noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from srlib.metrics import psnr
from srlib.models import _run_y, build, upscale
from srlib.resize import imresize
from srlib.train import (
    degrade,
    list_images,
    load_hr,
    make_patches,
    resolve_data_dir,
    split_images,
    train,
)

SCALE, BATCH, LR = 3, 16, 1e-4


class PatchDataset(Dataset):
    """Per-patch numpy arrays, the way most tutorials (and h5 readers) hand out patches."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs = [x.numpy() for x in inputs]
        self.targets = [y.numpy() for y in targets]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int):
        return self.inputs[i], self.targets[i]


def reference_epoch(dataset: Dataset, device: torch.device, seed: int) -> tuple:
    """One epoch of the common loop; returns (model, patches, seconds)."""
    torch.manual_seed(seed)
    model = build("9-5-5", padding="same").to(device)
    optimizer = torch.optim.Adam([
        {"params": [*model.conv1.parameters(), *model.conv2.parameters()], "lr": LR},
        {"params": model.conv3.parameters(), "lr": LR * 0.1},
    ])
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True)
    t0 = time.perf_counter()
    n = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model, n, time.perf_counter() - t0


def srlib_epoch(data: Path, max_images: int, device: torch.device, seed: int) -> tuple:
    """One epoch of srlib.train (no validation inside); returns (model, patches, seconds)."""
    out = Path(tempfile.mkdtemp(prefix="srlib_bench_"))
    try:
        r = train(SCALE, "9-5-5", epochs=1, out_dir=out, data_dir=data, batch_size=BATCH,
                  lr=LR, max_images=max_images, val_fraction=0.0, seed=seed,
                  device=device, progress=False)
        seconds = float(open(r["log"]).read().splitlines()[1].split(",")[-1])
        model = build("9-5-5")
        model.load_state_dict(torch.load(r["weights"], weights_only=True))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return model.to(device), r["steps"] * BATCH, seconds


def val_psnr(model, val) -> float:
    model.eval()
    with torch.no_grad():
        scores = [psnr(_run_y(model, x).clamp(0, 1).double(), y.double(),
                       crop_border=SCALE).item() for x, y in val]
    return float(np.mean(scores))


def inference(device: torch.device, repeats: int, size: int) -> dict:
    lr = torch.rand(1, 3, size, size, device=device)
    mp = (size * SCALE) ** 2 / 1e6
    rows = {}
    methods = {"bicubic (imresize)": lambda x: imresize(x, SCALE).clamp(0, 1)}
    for config in ("9-1-5", "9-5-5"):
        model = build(config).to(device)
        methods[f"SRCNN {config}"] = lambda x, m=model: upscale(m, x, SCALE)
    times = {k: [] for k in methods}
    for _ in range(repeats):
        for k, fn in methods.items():
            t0 = time.perf_counter()
            fn(lr)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t0)
    for k, t in times.items():
        rows[k] = statistics.median(t) / mp
    return rows


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20 images, 2 repeats")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--images", type=int, default=None, help="first N T91 images (default 91)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None)
    p.add_argument("--json", default=None, help="save the results to this file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    try:
        data = resolve_data_dir(a.data)  # --data, else $SRLIB_DATA_DIR, else the shipped T91
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    images = a.images or (20 if a.quick else 91)
    repeats = a.repeats or (2 if a.quick else 3)

    files = list_images(data)[:images]
    train_files, val_files = split_images(files, 0.1)
    # the reference trains on the same images srlib.train uses with val_fraction=0 ...
    x, y = make_patches(files, SCALE, shrink=0)
    dataset = PatchDataset(x, y)
    # ... and both are scored on held-out images (T91 images not in the first `images`,
    # or, with all 91, the validation tenth: then it is part of both training sets)
    others = list_images(data)[images:][:10] or val_files
    val = [tuple(t.to(device) for t in degrade(load_hr(f), SCALE)) for f in others]
    print(f"{len(x)} training patches from {len(files)} images, {len(val)} validation "
          f"images, {a.threads} thread(s), device {device}, batch {BATCH}")

    results = {"reference": [], "srlib": []}
    for rep in range(repeats):
        for name in ("reference", "srlib") if rep % 2 == 0 else ("srlib", "reference"):
            if name == "reference":
                model, n, sec = reference_epoch(dataset, device, seed=rep)
            else:
                model, n, sec = srlib_epoch(data, images, device, seed=rep)
            results[name].append(dict(patches_per_s=n / sec, psnr=val_psnr(model, val)))
            print(f"  repeat {rep + 1} {name:9s}: {n / sec:7.1f} patches/s, validation "
                  f"PSNR after 1 epoch {results[name][-1]['psnr']:.2f} dB", flush=True)
    med = {k: statistics.median(r["patches_per_s"] for r in v) for k, v in results.items()}
    ps = {k: statistics.median(r["psnr"] for r in v) for k, v in results.items()}
    ratios = [s["patches_per_s"] / r["patches_per_s"]
              for s, r in zip(results["srlib"], results["reference"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"\n{'loop':10s} {'patches/s':>10s} {'PSNR/epoch':>11s}")
    for k in results:
        print(f"{k:10s} {med[k]:10.1f} {ps[k]:11.2f}")
    print(f"speed ratio srlib / reference (median of interleaved pairs): {ratio:.2f}x "
          f"(target >= 2x); PSNR difference {ps['srlib'] - ps['reference']:+.2f} dB")

    inf = inference(device, repeats=3, size=128 if a.quick else 256)
    print(f"\ninference at x{SCALE} on {device} ({a.threads} thread(s)), seconds per output "
          "megapixel:")
    for k, v in inf.items():
        print(f"  {k:20s} {v:8.3f} s/MP")
    summary = dict(results=results, patches_per_s=med, psnr=ps, ratio=ratio,
                   inference_s_per_mp=inf, threads=a.threads, device=str(device),
                   images=images, repeats=repeats, torch=torch.__version__)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
