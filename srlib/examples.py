"""Example-based super-resolution before deep learning: ANR (chapter 4).

Anchored Neighborhood Regression (ANR; Timofte, De Smet and Van Gool, ICCV 2013) learns
from pairs of patches what high frequencies a low-resolution (LR) patch lacks, with the
features of Zeyde, Elad and Protter (2010).  Everything works on the luma Y:

1. the LR image is upscaled with MATLAB's bicubic ``imresize`` (the "mid-res" image);
2. features: four high-pass filters on the mid-res image, the gradients ``[1, 0.., -1]``
   and the Laplacians ``[1, 0.., -2, 0.., 1] / 2`` along x and y, stretched by the scale
   (``scale - 1`` zeros between taps); a patch covers 3 x 3 LR pixels, i.e.
   ``3 * scale`` HR pixels a side, so a feature has ``4 * (3 * scale)**2`` entries, which
   PCA reduces to the directions holding 99.9 % of their energy (about 30);
3. a dictionary of 1024 LR atoms (K-SVD, 3 atoms per patch, 20 iterations) and its HR
   twin by least squares on the HR targets ``hr - bicubic``;
4. per atom, a ridge regressor built from its 40 most correlated atoms ("anchored
   neighbourhood"): ``P = 1.01 * Dh_N (Dl_N^T Dl_N + 0.01 I)^-1 Dl_N^T``;
5. at test time every 3 x 3-LR-pixel patch (stride one LR pixel) goes through the
   regressor of its most correlated atom; the overlapping HR patches are averaged and
   added to the bicubic image.

The settings (filters, window 3, training overlap 1 and border 1 LR pixel, 1024 atoms,
sparsity 3, 20 K-SVD iterations, 40 neighbours, lambda 0.01 and the factor 1.01) are those
of Timofte's released MATLAB code (``go_run_Set5_x3.m``, ``learn_dict.m``,
``methods/scaleup_ANR.m``, as bundled in the repository ``thomas-koehler/SupER``,
``matlab/algorithms/SRAlgorithms/Aplus``).  Differences, all for time or simplicity:

* the K-SVD is written here in torch (approximate atom update, KSVD-Box's default; unused
  atoms and atoms within 0.99 correlation of another are replaced by the worst
  represented patches);
* at x2 the released code samples training patches at every LR pixel (overlap 2); here,
  as at x3 and x4, at every other one (a quarter of the patches);
* the filters see the mid-res image replicate-padded, not zero-padded, and at test time
  the patch grid covers the whole image (the MATLAB code leaves a border of ``scale``
  pixels empty, which its evaluation shaves; srlib's protocol shaves the same border).

What ships: ``srlib/weights/anr_x{2,3,4}.npz`` (PCA basis, LR and HR dictionaries,
float32); the regressors are computed from them at load time (:func:`anr_regressors`).
Retrain with :func:`train_anr` (``python -m srlib.examples --scale 3 --out anr_x3.npz``).

Example::

    >>> import torch
    >>> from srlib.examples import anr
    >>> anr(torch.rand(1, 3, 16, 16), 2).shape
    torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from srlib import cli
from srlib.color import check_unit_range, rgb_to_ycbcr, ycbcr_to_rgb
from srlib.io import write_atomic
from srlib.resize import imresize

__all__ = [
    "ANR_SCALES",
    "WEIGHTS_DIR",
    "anr",
    "anr_regressors",
    "anr_y",
    "features",
    "ksvd",
    "load_anr",
    "omp",
    "train_anr",
]

#: The scales with shipped ANR dictionaries.
ANR_SCALES: tuple[int, ...] = (2, 3, 4)
#: Where the shipped dictionaries live.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WINDOW = 3          # patch side in LR pixels
NEIGHBOURS = 40     # atoms per anchored neighbourhood
LAMBDA = 0.01       # ridge of the ANR regressors


# ----------------------------------------------------------------------- features
def _filters(scale: int) -> torch.Tensor:
    """The four high-pass filters of Zeyde et al., stretched by ``scale``: ``(4, 1, k, k)``."""
    gap = [0.0] * (scale - 1)
    grad = torch.tensor([1.0, *gap, -1.0])
    lap = torch.tensor([1.0, *gap, -2.0, *gap, 1.0]) / 2
    k = lap.numel()
    bank = torch.zeros(4, 1, k, k)
    c, off = k // 2, (k - grad.numel()) // 2
    bank[0, 0, c, off:off + grad.numel()] = grad.flip(0)   # conv2 flips the kernel
    bank[1, 0, off:off + grad.numel(), c] = grad.flip(0)
    bank[2, 0, c, :] = lap
    bank[3, 0, :, c] = lap
    return bank


def _grid(img: torch.Tensor, scale: int, step: int, border: int) -> torch.Tensor:
    """Patches of ``3 * scale`` HR pixels a side every ``step`` LR pixels: ``(N, C*p*p)``."""
    b = border * scale
    if b:
        img = img[..., b:img.shape[-2] - b, b:img.shape[-1] - b]
    p = WINDOW * scale
    cols = F.unfold(img, kernel_size=p, stride=step * scale)   # (B, C*p*p, L)
    return cols.permute(0, 2, 1).reshape(-1, cols.shape[1])


def features(mid: torch.Tensor, scale: int, step: int = 1, border: int = 0) -> torch.Tensor:
    """Zeyde's features of a bicubic-upscaled Y batch: ``(N, 4 * (3 * scale)**2)``.

    Args:
        mid: ``(B, 1, H, W)`` float, the bicubic upscale of an LR Y image (H, W multiples
            of ``scale``, at least ``3 * scale``).
        scale: the upscaling factor (2, 3, 4, ...).
        step: distance between patches in LR pixels (1 at test time, 2 for training).
        border: LR pixels skipped at every side (1 for training, as the MATLAB code).

    Example::

        >>> features(torch.rand(1, 1, 12, 12), 2).shape      # 4 x 4 patch positions
        torch.Size([16, 144])
    """
    padded = F.pad(mid, (scale,) * 4, mode="replicate")     # the filters reach scale pixels
    return _grid(F.conv2d(padded, _filters(scale).to(mid)), scale, step, border)


# --------------------------------------------------------------- sparse coding, K-SVD
def omp(dictionary: torch.Tensor, x: torch.Tensor, sparsity: int = 3,
        block: int = 20000) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched orthogonal matching pursuit: ``x[:, n] ~ sum_t coef[n, t] * D[:, idx[n, t]]``.

    Args:
        dictionary: ``(d, K)`` with unit-norm columns.
        x: ``(d, N)`` signals.
        sparsity: atoms per signal.
        block: signals per batch (memory ``K * block`` floats).

    Returns:
        ``idx`` ``(N, sparsity)`` int64 and ``coef`` ``(N, sparsity)`` (dtype of ``x``).
    """
    if dictionary.ndim != 2 or x.ndim != 2 or dictionary.shape[0] != x.shape[0]:
        raise ValueError(f"omp needs D (d, K) and x (d, N), got {tuple(dictionary.shape)} "
                         f"and {tuple(x.shape)}")
    if not 1 <= sparsity <= dictionary.shape[1]:
        raise ValueError(f"sparsity must be in [1, {dictionary.shape[1]}], got {sparsity}")
    gram = (dictionary.T @ dictionary).double()
    idx_all, coef_all = [], []
    for start in range(0, x.shape[1], block):
        xb = x[:, start:start + block]
        dtx = (dictionary.T @ xb).double()                              # (K, n)
        n = xb.shape[1]
        resid = xb
        idx = torch.zeros(n, sparsity, dtype=torch.long, device=x.device)
        coef = torch.zeros(n, sparsity, dtype=torch.float64, device=x.device)
        for t in range(sparsity):
            corr = (dictionary.T @ resid).abs()
            if t:
                corr.scatter_(0, idx[:, :t].T, -1.0)     # never pick an atom twice
            idx[:, t] = corr.argmax(0)
            sel = idx[:, :t + 1]
            g = gram[sel[:, :, None], sel[:, None, :]]                     # (n, t+1, t+1)
            g = g + 1e-10 * torch.eye(t + 1, dtype=g.dtype, device=g.device)
            rhs = dtx.gather(0, sel.T).T                                   # (n, t+1)
            coef[:, :t + 1] = torch.linalg.solve(g, rhs[..., None])[..., 0]
            if t + 1 < sparsity:
                resid = xb - _reconstruct(dictionary, sel, coef[:, :t + 1].to(x.dtype))
        idx_all.append(idx)
        coef_all.append(coef.to(x.dtype))
    return torch.cat(idx_all), torch.cat(coef_all)


def _reconstruct(dictionary: torch.Tensor, idx: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """``D @ Gamma`` for the sparse codes of :func:`omp`: ``(d, N)``."""
    return sum(dictionary[:, idx[:, t]] * coef[:, t] for t in range(idx.shape[1]))


def ksvd(x: torch.Tensor, atoms: int = 1024, sparsity: int = 3, iterations: int = 20,
         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """K-SVD (Aharon, Elad, Bruckstein 2006) with the approximate rank-1 update.

    Starts from ``atoms`` random signals (normalised); each iteration sparse-codes all
    signals (:func:`omp`) and updates every atom in turn from the residual of the signals
    that use it (one power step: ``d = E g / |E g|``, ``g = E^T d``).  An atom no signal
    uses, or one within 0.99 correlation of an earlier atom, is replaced by the worst
    represented signal.  Deterministic for a given ``seed``.

    Args:
        x: ``(d, N)`` training signals, ``N >= atoms``.

    Returns:
        ``D`` ``(d, atoms)`` unit columns, and the final codes ``idx``, ``coef``
        ``(N, sparsity)``.
    """
    d, n = x.shape
    if n < atoms:
        raise ValueError(f"K-SVD needs at least as many signals as atoms ({n} < {atoms})")
    gen = torch.Generator().manual_seed(seed)
    norms = x.norm(dim=0)
    candidates = torch.nonzero(norms > 1e-6).flatten()
    if candidates.numel() < atoms:
        raise ValueError(f"only {candidates.numel()} non-zero signals for {atoms} atoms")
    pick = candidates[torch.randperm(candidates.numel(), generator=gen)[:atoms]]
    dic = x[:, pick] / norms[pick]
    for _ in range(iterations):
        idx, coef = omp(dic, x, sparsity)
        err = (x - _reconstruct(dic, idx, coef)).pow(2).sum(0)
        worst = iter(torch.argsort(err, descending=True).tolist())
        flat = idx.flatten()
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=atoms)
        starts = torch.cumsum(counts, 0) - counts
        for j in range(atoms):
            pos = order[starts[j]:starts[j] + counts[j]]
            if pos.numel() == 0 or (j and (dic[:, :j].T @ dic[:, j]).abs().max() > 0.99):
                w = next(worst)
                dic[:, j] = x[:, w] / x[:, w].norm().clamp_min(1e-12)
                continue
            samples, slot = pos // sparsity, pos % sparsity
            g = coef[samples, slot]
            resid = x[:, samples] - _reconstruct(dic, idx[samples], coef[samples])
            resid = resid + dic[:, j:j + 1] * g
            atom = resid @ g
            dic[:, j] = atom / atom.norm().clamp_min(1e-12)
            coef[samples, slot] = dic[:, j] @ resid
    idx, coef = omp(dic, x, sparsity)
    return dic, idx, coef


# ----------------------------------------------------------------------- training
def _t91_training_files() -> list[Path]:
    from srlib.data import t91_dir
    from srlib.train import list_images, split_images

    return split_images(list_images(t91_dir()))[0]


def _pairs(path: Path, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mid-res Y (the bicubic upscale of the LR Y) and HR Y of one file, modcropped.

    The LR image is the papers' (:func:`srlib.train.degrade_y`, ``protocol="y"``): Y of the
    uint8 image rounded to 8-bit levels, shrunk by MATLAB's bicubic ``imresize``.  The file
    is read by :func:`srlib.io.read_image` (errors name the file).
    """
    from srlib.train import degrade_y, load_hr

    lr, hr = degrade_y(load_hr(path), scale)
    return imresize(lr, scale), hr


def train_anr(scale: int, files: list[str | Path] | None = None, atoms: int = 1024,
              sparsity: int = 3, iterations: int = 20, max_patches: int | None = None,
              seed: int = 0, verbose: bool = False) -> dict[str, np.ndarray]:
    """Learn ANR's PCA basis and dictionaries for ``scale`` from HR images (default T91).

    Args:
        scale: integer upscaling factor >= 2.
        files: HR image files; default the T91 training split (every image but the 1st,
            11th, ..., 91st by name: :func:`srlib.train.split_images`).
        atoms, sparsity, iterations: K-SVD settings (the papers': 1024, 3, 20).
        max_patches: keep at most this many training patches (a random subset), or all.
        seed: seeds the subset and the K-SVD initialisation.

    Returns:
        ``{"pca": (D, d), "dict_lr": (d, atoms), "dict_hr": ((3*scale)**2, atoms),
        "scale": (), "seconds": ()}`` as float32 numpy arrays (``pca`` maps a feature of
        ``D = 4 * (3*scale)**2`` entries to ``d`` PCA coordinates: ``pca.T @ f``).
    """
    if not isinstance(scale, int) or scale < 2:
        raise ValueError(f"scale must be an integer >= 2, got {scale!r}")
    t0 = time.perf_counter()
    paths = [Path(f) for f in files] if files is not None else _t91_training_files()
    if not paths:
        raise ValueError("no training images")
    feats, targets = [], []
    for path in paths:
        mid, hr = _pairs(path, scale)
        if min(hr.shape[-2:]) < (WINDOW + 2) * scale:
            continue
        feats.append(features(mid, scale, step=WINDOW - 1, border=1))
        targets.append(_grid(hr - mid, scale, step=WINDOW - 1, border=1))
    if not feats:
        raise ValueError(f"every image is smaller than {(WINDOW + 2) * scale} pixels")
    x, y = torch.cat(feats).double(), torch.cat(targets).double()
    if max_patches is not None and x.shape[0] > max_patches:
        keep = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
        x, y = x[keep[:max_patches]], y[keep[:max_patches]]
    # PCA without centring, keeping 99.9 % of the energy (learn_dict.m)
    vals, vecs = torch.linalg.eigh(x.T @ x)                      # ascending
    first = int(torch.nonzero(torch.cumsum(vals, 0) / vals.sum() >= 1e-3)[0])
    pca = vecs[:, first:]
    xp = (x @ pca).T.float()
    dict_lr, idx, coef = ksvd(xp, atoms, sparsity, iterations, seed)
    # HR dictionary by least squares: Dh = Y G^T (G G^T)^-1 with the sparse codes G
    gram = torch.zeros(atoms, atoms, dtype=torch.float64)
    yg = torch.zeros(y.shape[1], atoms, dtype=torch.float64)
    c = coef.double()
    for a in range(sparsity):
        yg.index_add_(1, idx[:, a], y.T * c[:, a])
        for b in range(sparsity):
            gram.index_put_((idx[:, a], idx[:, b]), c[:, a] * c[:, b], accumulate=True)
    dict_hr = torch.linalg.solve(gram + 1e-8 * torch.eye(atoms, dtype=gram.dtype), yg.T).T
    seconds = time.perf_counter() - t0
    if verbose:
        print(f"x{scale}: {x.shape[0]} patches from {len(paths)} images, PCA "
              f"{x.shape[1]} -> {pca.shape[1]}, {seconds:.0f} s")
    return {"pca": pca.float().numpy(), "dict_lr": dict_lr.numpy(),
            "dict_hr": dict_hr.float().numpy(), "scale": np.array(scale),
            "seconds": np.array(seconds, dtype=np.float32),
            "patches": np.array(x.shape[0]), "images": np.array(len(paths))}


# ----------------------------------------------------------------------- inference
def anr_regressors(dict_lr: torch.Tensor, dict_hr: torch.Tensor,
                   neighbours: int = NEIGHBOURS, lam: float = LAMBDA) -> torch.Tensor:
    """ANR's projection per atom: ``(K, p*p, d)``.

    For atom ``i`` with the ``neighbours`` atoms ``N`` most correlated with it
    (``|Dl^T Dl|``, itself included): ``P_i = 1.01 * Dh_N (Dl_N^T Dl_N + lam I)^-1 Dl_N^T``
    (the factor 1.01 is in the released code).
    """
    k = dict_lr.shape[1]
    if dict_hr.shape[1] != k:
        raise ValueError(f"{k} LR atoms but {dict_hr.shape[1]} HR atoms")
    nn = min(neighbours, k)
    lo, hi = dict_lr.double(), dict_hr.double()
    eye = torch.eye(nn, dtype=lo.dtype)
    if nn == k:      # every neighbourhood is the whole dictionary: one global regressor
        glob = 1.01 * hi @ torch.linalg.solve(lo.T @ lo + lam * eye, lo.T)
        return glob.float().expand(k, -1, -1)
    near = (lo.T @ lo).abs().argsort(dim=1, descending=True, stable=True)[:, :nn]   # (K, nn)
    out = torch.empty(k, hi.shape[0], lo.shape[0], dtype=torch.float32)
    chunk = max(1, 2_000_000 // (nn * nn))              # bounds the (chunk, nn, nn) Gram
    for a in range(0, k, chunk):
        lo_n = lo.T[near[a:a + chunk]]                  # (c, nn, d)
        hi_n = hi.T[near[a:a + chunk]]                  # (c, nn, p*p)
        gram = lo_n @ lo_n.transpose(1, 2) + lam * eye
        out[a:a + chunk] = (1.01 * hi_n.transpose(1, 2) @ torch.linalg.solve(gram, lo_n)).float()
    return out


@lru_cache(maxsize=8)
def load_anr(scale: int, path: str | None = None) -> dict[str, torch.Tensor]:
    """The shipped (or given) ANR model for ``scale``: PCA, dictionaries and regressors."""
    file = Path(path) if path else WEIGHTS_DIR / f"anr_x{scale}.npz"
    if path is None and scale not in ANR_SCALES:
        raise ValueError(f"ANR ships for scales {ANR_SCALES}, not {scale!r}: train one with "
                         f"python -m srlib.examples --scale {scale} --out anr_x{scale}.npz")
    if not file.is_file():
        raise FileNotFoundError(f"no ANR model at {file}: retrain it with "
                                f"python -m srlib.examples --scale {scale} --out {file}")
    with np.load(file) as z:
        arrays = {k: torch.from_numpy(z[k].copy()) for k in ("pca", "dict_lr", "dict_hr")}
        stored = int(z["scale"])
    if stored != scale:
        raise ValueError(f"{file} holds an ANR model for x{stored}, not x{scale}")
    arrays["proj"] = anr_regressors(arrays["dict_lr"], arrays["dict_hr"])
    return arrays


def anr_y(y: torch.Tensor, scale: int, model: dict[str, torch.Tensor] | None = None,
          block: int = 4096) -> torch.Tensor:
    """ANR on an LR Y batch ``(B, 1, h, w)`` (float, e.g. [16/255, 235/255]).

    Returns ``(B, 1, h*scale, w*scale)`` float32, not clamped.  ``h`` and ``w`` must be
    at least 3 (one patch of 3 x 3 LR pixels).
    """
    if y.ndim != 4 or y.shape[1] != 1:
        raise ValueError(f"anr_y expects a (B, 1, h, w) Y batch, got {tuple(y.shape)}")
    if min(y.shape[-2:]) < WINDOW:
        raise ValueError(f"ANR needs an LR image of at least {WINDOW}x{WINDOW} pixels, got "
                         f"{y.shape[-1]}x{y.shape[-2]}")
    model = model or load_anr(scale)
    device = y.device
    pca, dlr, proj = (model[k].to(device) for k in ("pca", "dict_lr", "proj"))
    if pca.shape[0] != 4 * (WINDOW * scale) ** 2:
        raise ValueError(f"the ANR model has features of {pca.shape[0]} entries, scale "
                         f"{scale} needs {4 * (WINDOW * scale) ** 2}")
    mid = imresize(y.float(), scale)
    b, _, hh, ww = mid.shape
    p = WINDOW * scale
    feats = features(mid, scale) @ pca                     # (N, d)
    out = torch.empty(feats.shape[0], p * p, device=device)
    for start in range(0, feats.shape[0], block):
        f = feats[start:start + block]
        atom = (f @ dlr).abs_().argmax(1)                  # the anchor of every patch
        out[start:start + block] = torch.bmm(proj[atom], f[:, :, None])[:, :, 0]
    patches = out + _grid(mid, scale, step=1, border=0)    # add the low frequencies back
    cols = patches.reshape(b, -1, p * p).permute(0, 2, 1)
    size = (hh, ww)
    total = F.fold(cols, size, kernel_size=p, stride=scale)
    weight = F.fold(torch.ones_like(cols[:1]), size, kernel_size=p, stride=scale)
    return total / weight


def anr(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """ANR upscaler for srlib's registry: ``(B, 3, h, w)`` in [0, 1] -> ``(B, 3, H, W)``.

    Y goes through :func:`anr_y`; Cb and Cr are bicubic.  A one-channel batch, or three
    equal channels (a gray image, or ``evaluate(..., protocol="y")``), is used as Y
    directly, as the papers' code does for gray images.  Output clamped to [0, 1].
    """
    check_unit_range(lr, "lr")
    if lr.ndim != 4 or lr.shape[1] not in (1, 3):
        raise ValueError(f"anr expects a (B, 3, h, w) or (B, 1, h, w) batch, got "
                         f"{tuple(lr.shape)}")
    x = lr.float()
    if x.shape[1] == 1 or bool((x[:, :1] == x[:, 1:]).all()):
        return anr_y(x[:, :1], scale).clamp(0, 1).expand(-1, lr.shape[1], -1, -1) \
            .contiguous().to(lr.dtype)
    ycc = rgb_to_ycbcr(x)
    y = anr_y(ycc[:, :1], scale)
    cbcr = imresize(ycc[:, 1:], scale)
    return ycbcr_to_rgb(torch.cat([y, cbcr], 1)).clamp(0, 1).to(lr.dtype)


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> None:
    """``python -m srlib.examples --scale 3 --out anr_x3.npz``: train ANR on T91."""
    parser = cli.parser(
        "python -m srlib.examples",
        "Train ANR (Timofte et al. 2013) on the T91 training split and save its PCA basis "
        "and dictionaries as .npz.")
    parser.add_argument("--scale", type=cli.positive_int, required=True,
                        help="upscaling factor (>= 2)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out if it exists")
    parser.add_argument("--atoms", type=cli.positive_int, default=1024)
    parser.add_argument("--iterations", type=cli.positive_int, default=20)
    parser.add_argument("--max-patches", type=cli.positive_int, default=None)
    parser.add_argument("--threads", type=cli.positive_int, default=1)
    args = parser.parse_args(argv)
    if args.out.exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} exists: choose another --out, or pass --overwrite "
                              "to replace it")
    if not args.out.parent.is_dir():
        raise FileNotFoundError(f"the folder of --out, {args.out.parent}, does not exist")
    torch.set_num_threads(args.threads)
    model = train_anr(args.scale, atoms=args.atoms, iterations=args.iterations,
                      max_patches=args.max_patches, verbose=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:   # a file object: numpy adds no ".npz" to the name
            np.savez_compressed(fh, **model)

    write_atomic(args.out, write)  # a killed run leaves no half-written file at --out
    print(json.dumps({"out": str(args.out), "seconds": round(float(model["seconds"]), 1),
                      "patches": int(model["patches"]), "pca_dims": model["pca"].shape[1]}))


if __name__ == "__main__":
    sys.exit(cli.run(main))
