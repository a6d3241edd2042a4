"""Benchmark srlib.resize.imresize against other bicubic resizers.

Speed: BSD100 x4 *upscaling* (the 100 LR images, 120x80 or 80x120, resized x4), float32 on
the CPU, one image at a time.  Every repetition runs all methods in turn (the order rotates
between repetitions), after a warm-up; the report gives the median time of a pass over the
images and the ratio to ``torch.nn.functional.interpolate`` measured in the same run.

Methods: ``srlib`` (``imresize``), ``interpolate`` (``mode="bicubic", antialias=True,
align_corners=False``), ``PIL`` (``Image.resize(BICUBIC)`` on the uint8 RGB image, its
usual input) and the MATLAB-compatible resizers on PyPI: ``resize-right``
(``resize_right.resize``) and ``bicubic-pytorch`` (``bicubic_pytorch.imresize``), both with
their default settings.

Agreement: the outputs of the other resizers are compared with srlib's on a few images
(float64, max abs difference in grey levels, x4 up and 1/4 down), and their uint8 x1/4
downscales of the BSD100 HR images with the MATLAB-made LR images (PSNR, identical pixels).

Usage::

    python benchmarks/bench_resize.py [--quick] [--threads N] [--json PATH]

Needs ``resize-right`` and ``bicubic-pytorch`` (``pip install resize-right
bicubic-pytorch``); a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
_SHARED_CACHE = _ROOT.parent / "shared" / "data" / "hf-cache"
# Like tests/conftest.py: use the offline hub cache beside the checkout if none is set.
# (Must happen before huggingface_hub is imported.)
if "HF_HUB_CACHE" not in os.environ and _SHARED_CACHE.is_dir():
    os.environ["HF_HUB_CACHE"] = str(_SHARED_CACHE)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from srlib.data import load_benchmark  # noqa: E402
from srlib.resize import imresize  # noqa: E402

SCALE = 4


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


resize_right = _optional("resize_right")
bicubic_pytorch = _optional("bicubic_pytorch")


def to_tensor(img: Image.Image, dtype=torch.float32) -> torch.Tensor:
    """PIL RGB -> (1, 3, H, W); floats in [0, 1] or uint8."""
    t = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].contiguous()
    return t if dtype == torch.uint8 else t.to(dtype) / 255


def upscalers() -> dict:
    """name -> function(float tensor (1, 3, h, w) or PIL image) -> x4 result."""
    methods = {
        "srlib": lambda x: imresize(x, SCALE),
        "interpolate": lambda x: F.interpolate(
            x, scale_factor=SCALE, mode="bicubic", antialias=True, align_corners=False
        ),
        "PIL": lambda im: im.resize((im.width * SCALE, im.height * SCALE), Image.BICUBIC),
    }
    if resize_right is not None:
        methods["resize-right"] = lambda x: resize_right.resize(x, scale_factors=SCALE)
    if bicubic_pytorch is not None:
        methods["bicubic-pytorch"] = lambda x: bicubic_pytorch.imresize(x, scale=SCALE)
    return methods


def time_methods(lr_images, repeats: int, warmup: int) -> dict:
    methods = upscalers()
    inputs = {
        name: (lr_images if name == "PIL" else [to_tensor(im) for im in lr_images])
        for name in methods
    }
    with torch.inference_mode():
        for _ in range(warmup):
            for name, fn in methods.items():
                for x in inputs[name]:
                    fn(x)
        times = {name: [] for name in methods}
        names = list(methods)
        for r in range(repeats):
            order = names[r % len(names):] + names[: r % len(names)]  # rotate the order
            for name in order:
                fn, xs = methods[name], inputs[name]
                t0 = time.perf_counter()
                for x in xs:
                    fn(x)
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["interpolate"])
    n = len(lr_images)
    return {
        name: {
            "median_s": statistics.median(ts),
            "median_ms_per_image": statistics.median(ts) / n * 1e3,
            "min_s": min(ts),
            "ratio_vs_interpolate": statistics.median(ts) / base,
        }
        for name, ts in times.items()
    }


def _uint8(x: torch.Tensor) -> torch.Tensor:
    """Float 0..255 -> uint8, clamped and rounded half away from zero (MATLAB)."""
    return torch.floor(x.clamp(0, 255) + 0.5).to(torch.uint8)


def compare_outputs(lr_images, hr_images) -> dict:
    """Max abs difference (grey levels, float64) of other resizers' outputs vs srlib's."""
    others = {
        "interpolate": lambda x, s: F.interpolate(
            x, scale_factor=s, mode="bicubic", antialias=True, align_corners=False
        ),
    }
    if resize_right is not None:
        others["resize-right"] = lambda x, s: resize_right.resize(x, scale_factors=s)
        others["resize-right (pad_mode=replicate)"] = lambda x, s: resize_right.resize(
            x, scale_factors=s, pad_mode="replicate")
    if bicubic_pytorch is not None:
        others["bicubic-pytorch"] = lambda x, s: bicubic_pytorch.imresize(x, scale=s)
    result = {}
    for name, fn in others.items():
        entry = {}
        for label, images, s in (("up_x4", lr_images, SCALE), ("down_x1/4", hr_images, 1 / SCALE)):
            worst = interior = 0.0
            for im in images:
                x = to_tensor(im, torch.float64) * 255
                ours, theirs = imresize(x, s), fn(x, s)
                if theirs.shape != ours.shape:
                    worst = interior = math.nan
                    break
                d = (ours - theirs).abs()
                worst = max(worst, d.max().item())
                m = 8  # away from the borders
                interior = max(interior, d[..., m:-m, m:-m].max().item())
            entry[label] = {"max_abs_diff": worst, "max_abs_diff_interior": interior}
        result[name] = entry
    return result


def downscale_vs_matlab(ds) -> dict:
    """uint8 x1/4 downscales of the HR images vs the MATLAB-made LR images."""
    methods = {
        "srlib": lambda t8: imresize(t8, 1 / SCALE),
        "interpolate": lambda t8: _uint8(F.interpolate(
            t8.double(), scale_factor=1 / SCALE, mode="bicubic", antialias=True,
            align_corners=False)),
        "PIL": None,  # handled on the PIL image
    }
    # resize-right returns floats (and mis-handles uint8 input): it gets float64 0..255 and
    # its result is rounded once, half away from zero
    if resize_right is not None:
        methods["resize-right"] = lambda t8: _uint8(
            resize_right.resize(t8.double(), scale_factors=1 / SCALE))
        methods["resize-right (pad_mode=replicate)"] = lambda t8: _uint8(
            resize_right.resize(t8.double(), scale_factors=1 / SCALE, pad_mode="replicate"))

        def rr_per_pass(t8):  # not the package's behaviour: MATLAB's rounding added by hand
            x = t8.double()
            for factors in ([1, 1, 1 / SCALE, 1], [1, 1, 1, 1 / SCALE]):  # height first
                x = _uint8(resize_right.resize(x, scale_factors=factors, pad_mode="replicate"))
                x = x.double()
            return x.to(torch.uint8)

        methods["resize-right (replicate, rounded per pass)"] = rr_per_pass
    if bicubic_pytorch is not None:
        # it accepts uint8 itself (computes in float32, rounds once at the end)
        methods["bicubic-pytorch"] = lambda t8: bicubic_pytorch.imresize(t8, scale=1 / SCALE)
    stats = {name: {"sq_err": 0.0, "identical": 0, "total": 0, "max_diff": 0, "psnr": []}
             for name in methods}
    for row in ds:
        hr, lr = row["hr"], np.asarray(row["lr"]).astype(np.int64)
        t8 = to_tensor(hr, torch.uint8)
        for name, fn in methods.items():
            if fn is None:
                out = np.asarray(hr.resize((hr.width // SCALE, hr.height // SCALE),
                                           Image.BICUBIC))
            else:
                out = fn(t8)[0].permute(1, 2, 0).numpy()
            d = out.astype(np.int64) - lr
            st = stats[name]
            mse = float((d**2).mean())
            st["psnr"].append(math.inf if mse == 0 else 10 * math.log10(255**2 / mse))
            st["sq_err"] += float((d**2).sum())
            st["identical"] += int((d == 0).sum())
            st["total"] += d.size
            st["max_diff"] = max(st["max_diff"], int(np.abs(d).max()))
    result = {}
    for name, st in stats.items():
        mse = st["sq_err"] / st["total"]
        finite = [p for p in st["psnr"] if math.isfinite(p)]
        result[name] = {
            "psnr_db_all_pixels": math.inf if mse == 0 else 10 * math.log10(255**2 / mse),
            # per-image PSNR is infinite for identical images: mean only if none is
            "psnr_db_mean_over_images": (statistics.mean(finite)
                                         if len(finite) == len(st["psnr"]) else None),
            "identical_fraction": st["identical"] / st["total"],
            "max_diff": st["max_diff"],
            "exact": st["identical"] == st["total"],
        }
    return result


def _json_safe(obj):
    """inf/nan -> None (strict JSON has no Infinity); an exact match has PSNR null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="20 images, fewer repetitions (a smoke test, noisier)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's default)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (5 if args.quick else 15)
    warmup = 1 if args.quick else 2

    ds = load_benchmark("BSD100", SCALE)
    if args.quick:
        ds = ds.select(range(20))
    lr_images = [row["lr"] for row in ds]
    hr_images = [row["hr"] for row in ds]
    missing = [n for n, m in (("resize-right", resize_right),
                              ("bicubic-pytorch", bicubic_pytorch)) if m is None]

    print(f"BSD100 x{SCALE} upscaling, {len(lr_images)} LR images "
          f"({lr_images[0].width}x{lr_images[0].height} ...), float32, CPU, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    timing = time_methods(lr_images, repeats, warmup)
    print(f"\n{'method':<18}{'median/pass':>13}{'per image':>12}{'vs interpolate':>16}")
    for name, t in sorted(timing.items(), key=lambda kv: kv[1]["median_s"]):
        print(f"{name:<18}{t['median_s'] * 1e3:>10.1f} ms{t['median_ms_per_image']:>9.3f} ms"
              f"{t['ratio_vs_interpolate']:>15.2f}x")

    few = 3 if args.quick else 5
    agreement = compare_outputs(lr_images[:few], hr_images[:few])
    print(f"\noutputs vs srlib (float64, {few} images, grey levels 0..255): max abs diff "
          "(all pixels / 8 px from the border)")
    for name, e in agreement.items():
        cells = "   ".join(f"{k}: {v['max_abs_diff']:.3g} / {v['max_abs_diff_interior']:.3g}"
                           for k, v in e.items())
        print(f"  {name:<44}{cells}")

    matlab = downscale_vs_matlab(ds)
    print(f"\nuint8 x1/{SCALE} downscale of {len(ds)} HR images vs the MATLAB-made LR images:")
    for name, m in matlab.items():
        print(f"  {name:<44}PSNR {m['psnr_db_all_pixels']:>6.2f} dB   identical "
              f"{m['identical_fraction']:.4%}   max diff {m['max_diff']:>3}"
              f"{'   EXACT' if m['exact'] else ''}")

    ours = timing["srlib"]["ratio_vs_interpolate"]
    pypi = {n: timing[n]["ratio_vs_interpolate"] for n in ("resize-right", "bicubic-pytorch")
            if n in timing}
    targets = {
        "within_2x_of_interpolate": ours <= 2.0,
        "faster_than_pypi_matlab_resizers": all(ours < r for r in pypi.values()),
    }
    print(f"\ntargets: srlib/interpolate = {ours:.2f}x (<= 2: "
          f"{'met' if targets['within_2x_of_interpolate'] else 'MISSED'}); faster than "
          f"{', '.join(pypi) or 'no PyPI resizer'}: "
          f"{'met' if targets['faster_than_pypi_matlab_resizers'] else 'MISSED'}")

    results = {
        "dataset": f"BSD100 x{SCALE}",
        "images": len(lr_images),
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "missing": missing,
        "timing_upscale_float32": timing,
        "agreement_with_srlib_float64": agreement,
        "downscale_uint8_vs_matlab": matlab,
        "targets": targets,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(_json_safe(results), indent=2, allow_nan=False, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return results


if __name__ == "__main__":
    main()
