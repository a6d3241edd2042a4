"""Benchmark datasets for super-resolution: Set5, Set14 and BSD100 from the Hugging Face hub.

The archives live in the hub dataset repositories ``eugenesiow/Set5``, ``eugenesiow/Set14`` and
``eugenesiow/BSD100`` (files ``data/<Name>_HR.tar.gz`` and ``data/<Name>_LR_x<s>.tar.gz``).
They are fetched with :func:`huggingface_hub.hf_hub_download`, so the usual hub settings apply:
``HF_HUB_CACHE`` chooses where downloads are kept and ``HF_HUB_OFFLINE=1`` uses only what is
already there. The PNG files are extracted into srlib's own cache folder (``SRLIB_CACHE``,
by default ``~/.cache/srlib``), never inside the hub cache.

Example::

    >>> from srlib.data import load_benchmark
    >>> ds = load_benchmark("Set5", scale=4)
    >>> ds[0]["name"], ds[0]["hr"].size, ds[0]["lr"].size
    ('baby', (512, 512), (128, 128))

Run ``python -m srlib.data Set5 --scale 4`` to download a dataset and print a summary.

The training set of chapter 5, T91 (Yang et al. 2010, the 91 images SRCNN trains on), is not
served by any hub repository: it ships inside srlib (:func:`t91_dir`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import datasets
import huggingface_hub.constants
import numpy as np
import pandas as pd
import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import LocalEntryNotFoundError
from PIL import Image
from tqdm import tqdm

from srlib import cli
from srlib.color import check_unit_range
from srlib.io import ImageReadError, file_sha256, image_to_tensor, read_image

#: The benchmark datasets and the number of images each holds.
BENCHMARKS: dict[str, int] = {"Set5": 5, "Set14": 14, "BSD100": 100}
#: The upscaling factors the hub repositories provide LR images for.
SCALES: tuple[int, ...] = (2, 3, 4)


class DataNotAvailableError(FileNotFoundError):
    """A dataset file is neither in the hub cache nor downloadable (offline, no network)."""


class CorruptArchiveError(RuntimeError):
    """A downloaded archive cannot be read to the end (corrupt or truncated download)."""


class UnsafeArchiveError(RuntimeError):
    """An archive member would be written outside its folder (absolute path, ``..``, link)."""


class CacheDirError(OSError):
    """srlib's cache folder (``SRLIB_CACHE``) is a file, or cannot be created or written."""


def _cache_source() -> str:
    if os.environ.get("SRLIB_CACHE"):
        return "SRLIB_CACHE"
    return "XDG_CACHE_HOME" if os.environ.get("XDG_CACHE_HOME") else "the default, ~/.cache"


def cache_dir() -> Path:
    """Folder where srlib keeps extracted images: ``$SRLIB_CACHE``, else ``~/.cache/srlib``.

    ``XDG_CACHE_HOME`` is honoured when set (``$XDG_CACHE_HOME/srlib``).
    """
    if os.environ.get("SRLIB_CACHE"):
        return Path(os.environ["SRLIB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "srlib"


#: Number of images in T91, the training set shipped with srlib.
T91_IMAGES = 91


def t91_dir(*, verify: bool = False) -> Path:
    """The folder of T91, the 91 training images of SRCNN, shipped inside srlib.

    T91 (``t1.png`` ... ``tt27.png``, RGB, 9.4 MB in all) was collected by Yang et al.
    (IEEE TIP 2010) and distributed with the SRCNN training code (Dong et al. 2014); no
    hub repository serves it, so srlib carries a lossless PNG copy as package data.
    ``srlib.train`` uses it when no other folder is given.

    Args:
        verify: also check every file against the SHA-256 sums in ``SHA256SUMS``
            (reads all 9.4 MB; by default only the file count is checked).

    Raises:
        FileNotFoundError: the folder is missing or incomplete (an installation that did not
            carry srlib's package data; reinstall with ``pip install .``).
        ValueError: with ``verify``, a file whose content differs from the shipped one.

    >>> len(list(t91_dir().glob("*.png")))
    91
    """
    folder = Path(__file__).resolve().parent / "T91"
    found = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if len(found) != T91_IMAGES:
        raise FileNotFoundError(
            f"srlib's copy of T91 at {folder} holds {len(found)} of {T91_IMAGES} images: the "
            "installation did not carry srlib's package data. Reinstall srlib from the "
            "book's repository (`pip install .` in a clone), or pass a folder of HR images "
            "(data_dir=..., --data, or SRLIB_DATA_DIR)."
        )
    if verify:
        sums = dict(line.split()[::-1] for line in (folder / "SHA256SUMS").read_text()
                    .splitlines() if line.strip())
        bad = [p.name for p in found
               if file_sha256(p) != sums.get(p.name)]
        if bad:
            raise ValueError(
                f"{len(bad)} T91 files in {folder} differ from the shipped ones ({bad[:3]}): "
                "reinstall srlib."
            )
    return folder


def check_benchmark(name: str, scale: int) -> None:
    """Raise ``ValueError`` listing the choices if ``name`` or ``scale`` is not provided."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(BENCHMARKS)}")
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale not in SCALES:
        raise ValueError(
            f"unsupported scale {scale!r} for {name}: choose one of "
            f"{', '.join(map(str, SCALES))} (scale must be one of them, as an int)"
        )


def repo_id(name: str) -> str:
    """Hub dataset repository of a benchmark, e.g. ``'eugenesiow/Set5'``."""
    return f"eugenesiow/{name}"


def fetch_archive(name: str, stem: str, *, force_download: bool = False) -> Path:
    """Download ``data/<stem>.tar.gz`` of ``eugenesiow/<name>`` (or find it in the hub cache).

    Returns the path of the archive inside the hub cache. Raises :class:`DataNotAvailableError`
    with instructions when the file is not cached and cannot be downloaded.  Offline
    (``HF_HUB_OFFLINE=1``) ``force_download`` uses the cached file, with a warning.
    """
    filename = f"data/{stem}.tar.gz"
    if force_download and huggingface_hub.constants.HF_HUB_OFFLINE:
        # the hub client refuses force_download offline ("Force download failed"): use the
        # cached archive; what srlib made from it is still rebuilt (benchmark_folders)
        warnings.warn(f"HF_HUB_OFFLINE is set: {filename} is not downloaded again, only "
                      "extracted again from the hub cache", stacklevel=3)
        force_download = False
    try:
        path = hf_hub_download(
            repo_id(name), filename, repo_type="dataset", force_download=force_download
        )
    except LocalEntryNotFoundError as err:
        raise DataNotAvailableError(
            f"{filename} of the hub dataset {repo_id(name)} is not in the hub cache "
            f"({os.environ.get('HF_HUB_CACHE', 'default location')}) and could not be "
            "downloaded (offline: HF_HUB_OFFLINE="
            f"{os.environ.get('HF_HUB_OFFLINE', 'unset')}). Connect to the internet and run "
            f"`python -m srlib.data {name}` once, or point HF_HUB_CACHE at a hub cache that "
            f"holds it (`hf download {repo_id(name)} {filename} --repo-type dataset` fills one)."
        ) from err
    return Path(path)


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")) or ".." in path.parts:
        raise UnsafeArchiveError(
            f"{archive} holds {member.name!r}, which would be written outside the target "
            "folder; refusing to extract it. The archive is not a genuine benchmark archive: "
            "delete it and download it again."
        )
    if not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "special file"
        raise UnsafeArchiveError(
            f"{archive} holds {member.name!r}, a {kind}; benchmark archives contain only "
            "image files, so nothing was extracted. Delete the archive and download it again."
        )


def _progress(items: list, desc: str, unit: str) -> tqdm:
    # a text bar, on a terminal only (disable=None) and for long jobs: in a notebook kernel a
    # widget bar can stall the book's executor
    return tqdm(items, desc=desc, unit=unit, leave=False,
                disable=None if len(items) >= 20 else True)


#: A ``.partial`` folder untouched for this long is the leftover of a killed process.
STALE_PARTIAL_SECONDS = 15 * 60


def _clean_partials(parent: Path, name: str) -> None:
    """Remove ``.<name>-*.partial`` folders older than :data:`STALE_PARTIAL_SECONDS`.

    A process that is still extracting writes into its folder (seconds for the largest
    archive), so only the leftovers of a killed extraction are that old.
    """
    now = time.time()
    for old in parent.glob(f".{name}-*.partial"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > STALE_PARTIAL_SECONDS:
                shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A private temporary folder beside ``target``, removed afterwards whatever happens.

    Stale ``.partial`` folders of killed extractions are removed first; a cache folder that
    cannot be written raises :class:`CacheDirError` naming ``SRLIB_CACHE``.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", suffix=".partial",
                                    dir=target.parent))
    except OSError as err:
        raise CacheDirError(
            f"cannot write srlib's cache folder {cache_dir()} (set by {_cache_source()}): "
            f"{err}. Point SRLIB_CACHE at a writable folder, or unset it to use "
            "~/.cache/srlib"
        ) from err
    _clean_partials(target.parent, target.name)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_images(folder: Path, archive: Path) -> None:
    """Decode every image under ``folder`` (:func:`srlib.io.read_image`), or raise."""
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES):
        try:
            read_image(path, mode="keep")
        except ImageReadError as err:
            member = path.relative_to(folder.parent).as_posix()
            why = str(err).replace(f"cannot read image {path}: ", "")
            raise CorruptArchiveError(
                f"{archive} holds {member}, which is not a readable image ({why}). Nothing "
                "was extracted; delete the archive (or run `python -m srlib.data NAME "
                "--force-download`) and fetch it again."
            ) from err


_IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


def _publish(folder: Path, target: Path) -> None:
    """Rename a finished ``folder`` to ``target`` (one atomic step), readable by all."""
    folder.chmod(0o755)  # mkdtemp makes folders private; the cache folders are readable
    try:
        folder.rename(target)
    except OSError:
        if not target.is_dir():  # a concurrent process may have finished first
            raise


def extract_archive(archive: str | Path, target: str | Path) -> Path:
    """Extract the folder ``target.name`` of a ``.tar.gz`` archive to ``target``, atomically.

    The archive is first read to the end and every member checked; members are then written
    to a temporary folder beside ``target``, which is renamed to ``target`` only when complete.
    Every image is decoded before the folder is published. So a corrupt or truncated archive
    or an undecodable image (:class:`CorruptArchiveError`) or an unsafe member
    (:class:`UnsafeArchiveError`) leaves nothing behind. Returns ``target``; does nothing if
    ``target`` already exists.
    """
    archive, target = Path(archive), Path(target)
    if target.is_dir():
        return target
    with _staging(target) as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()  # reads the whole stream: finds truncation and CRC
                for member in members:
                    _check_member(member, archive)
                files = [m for m in members if m.isfile()]
                for member in _progress(files, f"extract {archive.name}", "file"):
                    tar.extract(member, tmp, filter="data")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
            raise CorruptArchiveError(
                f"cannot read {archive}: {err}. The download is corrupt or truncated; delete "
                "that file (or run `python -m srlib.data NAME --force-download`) and fetch it "
                "again."
            ) from err
        produced = tmp / target.name
        if not produced.is_dir():
            raise CorruptArchiveError(
                f"{archive} does not contain the folder {target.name}/ (found: "
                f"{sorted({m.name.split('/')[0] for m in members})[:5]}). It is not the "
                "expected benchmark archive: delete it and download it again."
            )
        _check_images(produced, archive)
        _publish(produced, target)
    return target


_HASHES: dict[tuple, str] = {}


def _snapshot_key(archive: Path) -> str:
    """The cache key of an archive: the first 16 hex digits of its SHA-256.

    Keyed by content, so a replaced archive (a new hub revision, or a corrupt download
    fetched again under the same revision) is extracted afresh, never served from the old
    extraction.  Hashed once per process and file version (path, size, mtime, inode).
    """
    stat = archive.stat()
    version = (str(archive.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if version not in _HASHES:
        _HASHES[version] = file_sha256(archive)[:16]
    return _HASHES[version]


def _discard(folder: Path) -> None:
    """Remove a published cache folder: renamed away first (one step), then deleted."""
    if not folder.is_dir():
        return
    trash = folder.with_name(f".{folder.name}-{os.getpid()}-{time.time_ns()}.partial")
    try:
        folder.rename(trash)
    except OSError:  # a concurrent process removed it first
        return
    shutil.rmtree(trash, ignore_errors=True)


def benchmark_folders(
    name: str, scale: int, *, force_download: bool = False
) -> tuple[Path, Path]:
    """Download (if needed) and extract the HR and x``scale`` LR images of a benchmark.

    Returns ``(hr_folder, lr_folder)``: folders of PNG files named after the images, exactly
    as published (HR images not yet cropped).
    """
    check_benchmark(name, scale)
    folders = []
    for stem in (f"{name}_HR", f"{name}_LR_x{scale}"):
        archive = fetch_archive(name, stem, force_download=force_download)
        target = cache_dir() / name / _snapshot_key(archive) / stem
        if force_download:  # everything made from the archive: extraction and crops
            for derived in (target, *target.parent.glob(f"{stem}_modcrop_x*")):
                _discard(derived)
        folders.append(extract_archive(archive, target))
    return folders[0], folders[1]


def _pngs(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.png"))}


def _cropped_hr(hr_folder: Path, scale: int, names: list[str]) -> dict[str, Path]:
    """Paths of HR images cropped from the top-left to multiples of ``scale``.

    Images whose size is already a multiple are used as they are; the others are cropped
    once into ``<hr_folder>_modcrop_x<scale>/`` (written atomically, losslessly, same mode).
    """
    paths = {n: hr_folder / f"{n}.png" for n in names}
    todo = [n for n in names if any(v % scale for v in _image_header(paths[n])[0])]
    if not todo:
        return paths
    out = hr_folder.with_name(f"{hr_folder.name}_modcrop_x{scale}")
    if not out.is_dir():
        with _staging(out) as tmp:
            for n in _progress(todo, f"crop {hr_folder.name} to x{scale}", "image"):
                try:
                    with Image.open(paths[n]) as im:
                        w, h = im.width // scale * scale, im.height // scale * scale
                        im.crop((0, 0, w, h)).save(tmp / f"{n}.png")
                except (OSError, SyntaxError, ValueError) as err:
                    raise _damaged(paths[n], err) from err
            _publish(tmp, out)
    paths.update({n: out / f"{n}.png" for n in todo})
    return paths


def _damaged(path: Path, err: BaseException) -> CorruptArchiveError:
    return CorruptArchiveError(
        f"the cached image {path} is damaged ({err}): load again with force_download=True "
        f"(`python -m srlib.data NAME --force-download`) to extract it afresh"
    )


def _image_header(path: Path) -> tuple[tuple[int, int], str]:
    """``((width, height), mode)`` of an image file, or :class:`CorruptArchiveError`."""
    try:
        with Image.open(path) as im:
            return im.size, im.mode
    except (OSError, SyntaxError, ValueError) as err:
        raise _damaged(path, err) from err


def load_benchmark(name: str, scale: int, *, force_download: bool = False) -> datasets.Dataset:
    """Load a benchmark as paired HR/LR images: a :class:`datasets.Dataset`, sorted by name.

    Args:
        name: ``"Set5"``, ``"Set14"`` or ``"BSD100"``.
        scale: upscaling factor, 2, 3 or 4.
        force_download: download the archives again and rebuild everything made from them
            (the extracted images and the cropped HR copies).

    Returns:
        A dataset with one row per image and the columns

        - ``name`` (str): the image's name, e.g. ``"baby"``;
        - ``hr`` (:class:`datasets.Image`, decoded as an RGB PIL image): the high-resolution
          image cropped from the top-left to ``(H // scale * scale, W // scale * scale)``;
        - ``lr`` (:class:`datasets.Image`, RGB): the published low-resolution image, with
          ``hr.size == (lr.width * scale, lr.height * scale)``;
        - ``grayscale`` (bool): the image was published as a one-channel (mode ``L``) PNG.
          It is decoded as RGB with three equal channels, so every row has the same layout;
          evaluation code uses this flag to treat it as the gray image it is.

        ``ds.set_format("torch", columns=["hr", "lr"])`` gives ``uint8`` tensors of shape
        ``(3, H, W)`` (channels first, values 0..255).

    Raises:
        ValueError: unknown ``name`` or ``scale``, or HR and LR files that do not pair up.
        DataNotAvailableError: offline and the archive is not in the hub cache.
        CorruptArchiveError: an archive is corrupt or truncated, or holds an image that does
            not decode (nothing is left extracted); or a cached image was damaged later.
        CacheDirError: the cache folder (``SRLIB_CACHE``) is a file or not writable.
        UnsafeArchiveError: an archive member would land outside its folder.

    Example:
        >>> ds = load_benchmark("Set14", 3)
        >>> len(ds), ds.column_names
        (14, ['name', 'hr', 'lr', 'grayscale'])
    """
    hr_folder, lr_folder = benchmark_folders(name, scale, force_download=force_download)
    hr_files, lr_files = _pngs(hr_folder), _pngs(lr_folder)
    if hr_files.keys() != lr_files.keys():
        only_hr = sorted(hr_files.keys() - lr_files.keys())
        only_lr = sorted(lr_files.keys() - hr_files.keys())
        raise ValueError(
            f"{name} x{scale}: HR and LR archives list different images (only HR: {only_hr}, "
            f"only LR: {only_lr}). Re-download with force_download=True."
        )
    if not hr_files:
        raise CorruptArchiveError(f"{hr_folder} holds no PNG files: delete it and load again.")
    names = sorted(hr_files)
    hr_paths = _cropped_hr(hr_folder, scale, names)
    grayscale = []
    for n in names:
        (hw, hh), hr_mode = _image_header(hr_paths[n])
        (lw, lh), lr_mode = _image_header(lr_files[n])
        if (hw, hh) != (lw * scale, lh * scale):
            raise ValueError(
                f"{name}/{n}: HR cropped to {(hw, hh)} does not pair with LR {(lw, lh)} at "
                f"x{scale} (expected LR {(hw // scale, hh // scale)}). The "
                "files are not a bicubic benchmark pair; re-download with "
                "force_download=True."
            )
        grayscale.append(hr_mode in ("L", "I;16", "I", "1") and lr_mode == hr_mode)
    features = datasets.Features(
        {
            "name": datasets.Value("string"),
            "hr": datasets.Image(mode="RGB"),
            "lr": datasets.Image(mode="RGB"),
            "grayscale": datasets.Value("bool"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "name": names,
            "hr": [str(hr_paths[n]) for n in names],
            "lr": [str(lr_files[n]) for n in names],
            "grayscale": grayscale,
        },
        info=datasets.DatasetInfo(
            description=f"{name} x{scale}: HR/LR pairs from the hub repository {repo_id(name)}",
            features=features,
        ),
    )


def to_tensor(image: Image.Image, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PIL image -> tensor ``(C, H, W)``: floats in [0, 1], or ``uint8`` 0..255 if asked.

    The image's own channels (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA); 16-bit images are
    scaled by 65535 (rounded to 8 bits for uint8), palette and 1-bit images decoded, CMYK
    converted to RGB: the rules of :func:`srlib.io.image_to_tensor`.

    >>> to_tensor(Image.new("RGB", (4, 2), (255, 0, 0))).shape
    torch.Size([3, 2, 4])
    """
    return image_to_tensor(image, mode="keep", dtype=dtype)


def to_pil(image: torch.Tensor) -> Image.Image:
    """Tensor ``(C, H, W)`` (floats in [0, 1], or ``uint8``), C = 1 or 3 -> PIL image.

    Floats are rounded to the nearest 8-bit level after clamping to [0, 1]; floats clearly
    on another scale (outside [-1, 2], e.g. 0..255) raise ``ValueError`` instead of
    becoming a white image.
    """
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected a (C, H, W) tensor with C = 1 or 3, got {tuple(image.shape)}")
    if image.is_floating_point():
        check_unit_range(image, "image")
    elif image.dtype != torch.uint8:
        raise ValueError(f"expected a float or uint8 tensor, got {image.dtype}")
    if image.dtype != torch.uint8:
        image = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    array = image.cpu().permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def summary(ds: datasets.Dataset) -> pd.DataFrame:
    """One row per image: name, HR and LR sizes (width x height, pixels) and grayscale flag."""
    rows = []
    for row in ds:
        rows.append(
            {
                "name": row["name"],
                "hr_width": row["hr"].width,
                "hr_height": row["hr"].height,
                "lr_width": row["lr"].width,
                "lr_height": row["lr"].height,
                "grayscale": row["grayscale"],
            }
        )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m srlib.data Set5 --scale 4``; errors are raised (see below)."""
    parser = cli.parser(
        "python -m srlib.data",
        "Download a super-resolution benchmark from the Hugging Face hub, extract it into "
        "srlib's cache and print a summary.",
    )
    parser.add_argument("name", choices=list(BENCHMARKS), help="the benchmark")
    parser.add_argument("--scale", type=int, default=4, choices=SCALES,
                        help="upscaling factor of the LR images")
    parser.add_argument("--force-download", action="store_true",
                        help="download and extract again (e.g. after a corrupt download)")
    args = parser.parse_args(argv)
    ds = load_benchmark(args.name, args.scale, force_download=args.force_download)
    table = summary(ds)
    print(f"{args.name} x{args.scale}: {len(ds)} images from {repo_id(args.name)}")
    print(f"extracted under {cache_dir() / args.name}")
    print(table.to_string(index=False))


#: The exceptions of this module that ``python -m srlib.data`` reports on one line.
USER_ERRORS = (DataNotAvailableError, CorruptArchiveError, UnsafeArchiveError, CacheDirError)

if __name__ == "__main__":
    sys.exit(cli.run(main, user_errors=USER_ERRORS))
