"""Chapter 7's results table: the shipped networks on Set5, Set14 and BSD100 at x2, x3, x4.

Scores :func:`srlib.evaluate.evaluate` (``protocol="y"``, the papers' Y-channel code) for
bicubic and every network with its shipped weights, and prints Markdown tables: mean PSNR /
SSIM per dataset and scale, the training of each shipped run (kept epoch, T91 validation
PSNR, minutes: the sum of its log's ``seconds``), and multiply-adds per output pixel.  The
README and ``srlib/weights/README.md`` quote its output.  ``--csv`` also writes the scores
as ``srlib/weights/compact_scores.csv`` (one row per method, dataset and scale, with the
SHA-256 of the weights file scored), which chapter 7 reads for Set14 and BSD100 and checks
against its own Set5 measurement.

    python benchmarks/compact_table.py [--json out.json] [--csv]   # ~10 min on 1 thread
    python benchmarks/compact_table.py --csv --changed   # after new weights: those only
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys

import pandas as pd

from srlib.evaluate import evaluate
from srlib.io import file_sha256, write_atomic
from srlib.models import WEIGHTS_DIR, load_pretrained, macs_per_pixel, weights_path
from srlib.train import run_history

METHODS = ["bicubic", "srcnn", "fsrcnn", "espcn", "residual"]
DATASETS, SCALES = ["Set5", "Set14", "BSD100"], [2, 3, 4]
SCORES_CSV = WEIGHTS_DIR / "compact_scores.csv"


def weights_sha256(method: str, scale: int) -> str:
    """SHA-256 of the shipped weights ``method`` is scored with ("" for bicubic)."""
    return "" if method == "bicubic" else file_sha256(weights_path(method, scale))


def _run_text(settings: dict) -> str:
    """One run's schedule in words, e.g. "30 epochs at lr 0.0005 with rescale 0.9 0.8"."""
    extra = (" with rescale " + " ".join(f"{f:g}" for f in settings["rescale"])
             if settings.get("rescale") else "")
    return f"{settings['epochs']} epochs at lr {settings['lr']:g}{extra}"


def training_runs() -> list[dict]:
    """One dict per shipped network and scale: its kept epoch, validation PSNR, minutes."""
    runs = []
    for m in METHODS[2:]:
        for s in SCALES:
            meta = json.loads((WEIGHTS_DIR / f"{m}_x{s}.json").read_text())
            log = pd.read_csv(WEIGHTS_DIR / f"{m}_x{s}.log.csv")
            model = load_pretrained(m, s)
            history = run_history(meta)   # several runs: each from the one before's weights
            last = history[-1]
            epoch, init = last["epoch"] + last["rows"].start, history[0]["settings"].get("init")
            if len(history) > 1:              # (the log holds them all, one after the other)
                first = history[0]["settings"]
                init = (first.get("init") or f"random (seed {first['seed']})") + ", " + \
                    _run_text(first)
                for before, run in itertools.pairwise(history):
                    init += f"; then {_run_text(run['settings'])} from its epoch {before['epoch']}"
            runs.append(dict(model=m, scale=s, epoch=epoch, epochs=len(log),
                             val_psnr=meta["val_psnr"], val_bicubic=meta["val_bicubic_psnr"],
                             minutes=log["seconds"].sum() / 60, init=init,
                             macs_per_pixel=macs_per_pixel(model)))
    return runs


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None)
    p.add_argument("--csv", action="store_true", help=f"also write {SCORES_CSV}")
    p.add_argument("--changed", action="store_true",
                   help=f"score only the weights whose SHA-256 differs from {SCORES_CSV.name}'s "
                        "row; take the other rows from it (not after a change to srlib's "
                        "evaluation code: then score all)")
    a = p.parse_args(argv)
    if a.changed and not SCORES_CSV.is_file():
        p.error(f"--changed needs {SCORES_CSV}: run without --changed to score everything")
    stored = pd.read_csv(SCORES_CSV, keep_default_na=False) if a.changed else None
    rows = []
    for m in METHODS:
        for d in DATASETS:
            for s in SCALES:
                if stored is not None:
                    same = stored[(stored.method == m) & (stored.dataset == d) &
                                  (stored.scale == s) &
                                  (stored.weights_sha256 == weights_sha256(m, s))]
                    if len(same) == 1:     # plain floats: --json writes these rows too
                        rows.append(dict(method=m, dataset=d, scale=s,
                                         psnr=float(same.psnr.iloc[0]),
                                         ssim=float(same.ssim.iloc[0]),
                                         weights_sha256=weights_sha256(m, s)))
                        continue
                t = evaluate(m, d, s, protocol="y")
                rows.append(dict(method=m, dataset=d, scale=s, psnr=t["psnr"].mean(),
                                 ssim=t["ssim"].mean(), weights_sha256=weights_sha256(m, s)))
                print(m, d, s, f"{rows[-1]['psnr']:.2f}", file=sys.stderr, flush=True)
    scores = pd.DataFrame(rows)
    if a.csv:
        write_atomic(SCORES_CSV, lambda tmp: scores.to_csv(tmp, index=False,
                                                           float_format="%.6f"))
        print(f"wrote {SCORES_CSV}", file=sys.stderr)
    print("| method | scale | " + " | ".join(DATASETS) + " |")
    print("|---|---|" + "---|" * len(DATASETS))
    for m in METHODS:
        for s in SCALES:
            cells = []
            for d in DATASETS:
                r = scores[(scores.method == m) & (scores.dataset == d) & (scores.scale == s)]
                cells.append(f"{r.psnr.iloc[0]:.2f} / {r.ssim.iloc[0]:.4f}")
            print(f"| {m} | x{s} | " + " | ".join(cells) + " |")
    runs = training_runs()
    print("\n| weights | kept epoch | T91 validation PSNR (bicubic) | training | started "
          "from | MACs / output pixel |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(f"| `{r['model']}_x{r['scale']}.pt` | {r['epoch']} of {r['epochs']} | "
              f"{r['val_psnr']:.2f} dB ({r['val_bicubic']:.2f} dB) | {r['minutes']:.0f} min | "
              f"{r['init'] or 'random (seed 0)'} | {r['macs_per_pixel']:.0f} |")
    result = dict(scores=rows, runs=runs)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(result, fh, indent=1)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
