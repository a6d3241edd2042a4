"""How wide and deep should chapter 7's residual network be?  An accuracy-vs-cost sweep.

Trains :class:`srlib.models.ResidualSR` of several sizes (``width`` channels, ``blocks``
residual blocks) at x3 with the same recipe (``srlib.train.RECIPES["residual"]``), the same
data (the first ``--images`` T91 images, every 10th held out) and the same number of
epochs, one CPU thread each, and reports for each size its parameters, multiply-adds per
output pixel at x2 and x3 (:func:`srlib.models.macs_per_pixel`), training time and
validation PSNR (Y, ``crop_border = 3``), against SRCNN 9-5-5's 57,184 multiply-adds per
output pixel: the budget the chapter sets (no more than SRCNN 9-5-5 at any scale; x2 is the
most expensive scale for a post-upsampling network).

    python benchmarks/residual_sweep.py --csv srlib/weights/residual_sweep.csv

Timings on a shared machine are noisy; the PSNR column is what decides.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from srlib.models import SRCNN, ResidualSR, count_parameters, macs_per_pixel
from srlib.train import train

SIZES = [(16, 4), (32, 4), (32, 8), (48, 8), (64, 8)]


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=40, help="first N T91 images")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--csv", default=None, help="save the table to this CSV file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    budget = macs_per_pixel(SRCNN())
    rows = []
    for width, blocks in SIZES:
        with tempfile.TemporaryDirectory() as out:
            r = train(3, model="residual", model_kwargs=dict(width=width, blocks=blocks),
                      epochs=a.epochs, out_dir=out, max_images=a.images, progress=False,
                      threads=a.threads)
            seconds = pd.read_csv(Path(out) / "log.csv")["seconds"].sum()
        rows.append(dict(
            width=width, blocks=blocks,
            parameters=count_parameters(ResidualSR(3, width, blocks)),
            macs_x2=macs_per_pixel(ResidualSR(2, width, blocks)),
            macs_x3=macs_per_pixel(ResidualSR(3, width, blocks)),
            within_budget=macs_per_pixel(ResidualSR(2, width, blocks)) <= budget,
            minutes=seconds / 60, val_psnr=r["best_val_psnr"],
            val_bicubic=r["val_bicubic_psnr"], epochs=a.epochs, images=a.images))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if a.csv:
        Path(a.csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(a.csv, index=False)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
