"""Chapter 8: peak memory and speed of ``srlib.upscale``, tiled against untiled.

**Memory** (default): a 3000x2000 photograph (scikit-image's ``astronaut()``, resized to
that size with Pillow's Lanczos and saved as PNG) upscaled x2 by ``python -m srlib.upscale``
with 256-pixel tiles and without tiles, each in a fresh process.  Reported: the peak
resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` read by the child at its
end, so it covers the whole run: imports, reading, upscaling, writing), the time, and the
ratio untiled / tiled.  Target: the tiled run within 3 GB.  A process started with only the
imports gives the floor (torch alone takes a few hundred MB).

**Speed** (``--speed``): milliseconds per output megapixel of :func:`srlib.upscale.
upscale_array` for every method, tiled (256) and untiled, on a random-content LR image
(``--size``, default 384x384) at x2; the networks with random weights of the shipped sizes
(time does not depend on the values).

Run from the repository root::

    python benchmarks/upscale_memory.py --threads 1
    python benchmarks/upscale_memory.py --speed --threads 1 --json speed.json

Timings on a shared machine are noisy: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import resource, sys, time
    import torch
    torch.set_num_threads({threads})
    t0 = time.perf_counter()
    if {run!r}:
        from srlib import cli
        from srlib.upscale import main
        code = cli.run(main, {argv!r})
    else:
        code = 0
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    print("RESULT", code, peak, seconds)
""")


def _child(argv: list[str], threads: int, run: bool = True) -> dict:
    code = CHILD.format(threads=threads, run=run, argv=argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=3600)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    _, rc, peak, seconds = line[-1].split()
    return dict(exit=int(rc), peak_mib=int(peak) / 1024, seconds=float(seconds))


def photo(path: Path, size=(3000, 2000)) -> Path:
    import numpy as np
    from PIL import Image
    from skimage import data

    im = Image.fromarray(data.astronaut()).resize(size, Image.LANCZOS)
    a = np.asarray(im).astype(np.int16)
    noise = np.random.default_rng(0).integers(-2, 3, a.shape)   # not a flat upscale
    Image.fromarray(np.clip(a + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def memory(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = photo(Path(tmp) / "photo.png")
        base = [str(src), "--scale", "2", "--model", args.model, "--quiet", "--overwrite",
                "--out", tmp]
        rows = {"imports only": _child([], args.threads, run=False),
                "tiled 256": _child(base + ["--tile", "256"], args.threads)}
        if not args.skip_untiled:
            rows["untiled"] = _child(base + ["--tile", "0"], args.threads)
    print(f"{args.model} x2 on a 3000x2000 photo, {args.threads} thread(s): peak RSS")
    for name, r in rows.items():
        print(f"  {name:>13}: {r['peak_mib']:8.0f} MiB  {r['seconds']:7.1f} s  exit {r['exit']}")
    if "untiled" in rows:
        ratio = rows["untiled"]["peak_mib"] / rows["tiled 256"]["peak_mib"]
        print(f"  untiled / tiled peak memory: {ratio:.1f}x")
    ok = rows["tiled 256"]["peak_mib"] <= 3 * 1024
    print(f"  tiled run within 3 GB: {'yes' if ok else 'NO'}")
    return rows


def speed(args) -> list[dict]:
    import torch

    from srlib.upscale import _Plan, upscale_array
    from srlib.upscalers import METHODS, NETWORKS

    torch.set_num_threads(args.threads)
    x = torch.rand(3, args.size, args.size)
    rows = []
    for method in METHODS:
        try:
            plan = _Plan(method, 2)
        except (FileNotFoundError, ValueError):
            if method not in NETWORKS:
                raise
            plan = _random_plan(method)
        row = {"method": method, "halo": plan.halo}
        for label, tile in (("untiled", None), ("tiled 256", 256)):
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                upscale_array(x, plan, tile)
                times.append(time.perf_counter() - t0)
            mpix = x.shape[1] * x.shape[2] * 4 / 1e6
            row[label] = 1000 * sorted(times)[len(times) // 2] / mpix
        rows.append(row)
    print(f"ms per output megapixel, x2, {args.size}x{args.size} LR, {args.threads} thread(s)")
    print(f"{'method':>14} {'halo':>5} {'untiled':>9} {'tiled 256':>10}")
    for r in rows:
        print(f"{r['method']:>14} {r['halo']:>5} {r['untiled']:9.1f} {r['tiled 256']:10.1f}")
    return rows


def _random_plan(method: str):
    import json as js

    import torch

    from srlib.models import COMPACT
    from srlib.upscale import _Plan

    folder = Path(tempfile.mkdtemp())
    net = COMPACT[method](2)
    torch.save(net.state_dict(), folder / f"{method}.pt")
    (folder / f"{method}.json").write_text(js.dumps(dict(name=method, model=net.config,
                                                         scale=2)))
    return _Plan(method, 2, folder / f"{method}.pt")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--speed", action="store_true", help="time every method instead")
    p.add_argument("--model", default="srcnn", help="method for the memory run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--size", type=int, default=384, help="LR side for --speed")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-untiled", action="store_true",
                   help="memory: skip the untiled run (it needs ~10 GB for SRCNN)")
    p.add_argument("--json", default=None, help="save the results here")
    args = p.parse_args()
    result = speed(args) if args.speed else memory(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
