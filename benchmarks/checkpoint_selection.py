"""How much does choosing the checkpoint on the test set inflate a reported score?

Some re-implementations keep the epoch with the best Set5 PSNR and then report Set5 PSNR:
the test set chose the model.  ``srlib.train`` chooses on held-out T91 images instead.
This script scores every epoch kept by ``python -m srlib.train ... --save-every 1`` on
Set5 (the papers' protocol, :func:`srlib.evaluate.evaluate`) and writes one CSV row per
epoch: ``epoch, val_psnr`` (T91 validation, from the run's log) ``, set5_psnr``.

Usage::

    python benchmarks/checkpoint_selection.py runs/x2 --scale 2 \\
        --csv srlib/weights/srcnn_9-5-5_x2.epochs.csv

Chapter 5 reads the CSV and compares Set5 at the epoch chosen on validation with the best
Set5 over all epochs (what test-set selection would report).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srlib.evaluate import evaluate  # noqa: E402
from srlib.models import load_pretrained, upscale  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="training folder with log.csv and epochs/")
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--config", default="9-5-5")
    p.add_argument("--dataset", default="Set5")
    p.add_argument("--csv", type=Path, required=True, help="output CSV")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    with open(a.run / "log.csv", newline="") as fh:
        val = {int(r["epoch"]): float(r["val_psnr"]) for r in csv.DictReader(fh)}
    files = sorted((a.run / "epochs").glob("epoch_*.pt"))
    if not files:
        raise SystemExit(f"no {a.run}/epochs/epoch_*.pt: train with --save-every 1")
    rows = []
    for f in tqdm(files, desc=f"{a.dataset} x{a.scale}"):
        epoch = int(f.stem.split("_")[1])
        model = load_pretrained("srcnn", a.scale, a.config, path=f)
        table = evaluate(lambda lr, s, m=model: upscale(m, lr, s), a.dataset, a.scale)
        rows.append(dict(epoch=epoch, val_psnr=f"{val[epoch]:.4f}",
                         **{f"{a.dataset.lower()}_psnr": f"{table['psnr'].mean():.4f}"}))
    tmp = a.csv.with_name(a.csv.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(a.csv)
    print(f"{len(rows)} epochs scored on {a.dataset} x{a.scale}: {a.csv}")
    return rows


if __name__ == "__main__":
    main()
