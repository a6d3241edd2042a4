"""Score the shipped ANR on Set5, Set14 and BSD100 at x2, x3, x4 (chapter 4's table).

ANR's papers evaluate with MATLAB code on Y: ``protocol="y"`` of
:func:`srlib.evaluate.evaluate`.  Writes ``srlib/weights/anr_scores.csv`` (one row per
dataset and scale: ANR's and bicubic's mean PSNR and SSIM, and the seconds ANR's
evaluation took), which chapter 4 reads for BSD100 and re-measures on Set5.

    python scripts/score_anr.py            # about 3 minutes on 2 CPU threads
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from srlib.evaluate import evaluate

OUT = Path(__file__).resolve().parents[1] / "srlib" / "weights" / "anr_scores.csv"


def main() -> None:
    rows = []
    for dataset in ("Set5", "Set14", "BSD100"):
        for scale in (2, 3, 4):
            t0 = time.perf_counter()
            anr = evaluate("anr", dataset, scale, protocol="y")
            seconds = time.perf_counter() - t0
            bic = evaluate("bicubic", dataset, scale, protocol="y")
            rows.append({"dataset": dataset, "scale": scale,
                         "anr_psnr": anr["psnr"].mean(), "anr_ssim": anr["ssim"].mean(),
                         "bicubic_psnr": bic["psnr"].mean(),
                         "bicubic_ssim": bic["ssim"].mean(), "anr_seconds": seconds})
            print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(OUT, index=False, float_format="%.6f")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
