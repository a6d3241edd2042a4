"""The book's networks and their shipped weights.

* :mod:`srlib.models.srcnn`: SRCNN (chapter 5), which works on the bicubic-upscaled image;
* :mod:`srlib.models.compact`: FSRCNN, ESPCN and the book's compact residual network
  (chapter 7), which take the LR image and upscale at the end.

:func:`load_pretrained` loads any of them by name (``"srcnn"``, ``"fsrcnn"``, ``"espcn"``,
``"residual"``) from ``srlib/weights/``; :func:`upscale` runs any of them on an RGB or Y
batch; :func:`macs_per_pixel` and :func:`count_parameters` measure their cost.

Example::

    >>> from srlib.models import MODELS, load_pretrained, macs_per_pixel
    >>> sorted(MODELS)
    ['espcn', 'fsrcnn', 'residual', 'srcnn']
    >>> model = load_pretrained("espcn", 3)                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from srlib.models import compact, srcnn
from srlib.models.compact import (
    COMPACT,
    ESPCN,
    FSRCNN,
    ResidualBlock,
    ResidualSR,
    macs_per_pixel,
)
from srlib.models.srcnn import (
    CONFIGS,
    MAX_FILTERS,
    MAX_KERNEL,
    PADDINGS,
    SRCNN,
    WEIGHTS_DIR,
    _check_lr,  # noqa: F401 (used by srlib.train and tests)
    _check_scale,
    _run_y,  # noqa: F401 (used by srlib.train)
    bicubic_y,
    build,
    count_parameters,
    upscale,
    upscale_y,
)

__all__ = [
    "CONFIGS",
    "COMPACT",
    "ESPCN",
    "FSRCNN",
    "MAX_FILTERS",
    "MAX_KERNEL",
    "MODELS",
    "PADDINGS",
    "ResidualBlock",
    "ResidualSR",
    "SRCNN",
    "WEIGHTS_DIR",
    "bicubic_y",
    "build",
    "compact",
    "count_parameters",
    "load_pretrained",
    "macs_per_pixel",
    "srcnn",
    "upscale",
    "upscale_y",
    "weights_path",
]

#: Every network srlib ships weights for, by name.
MODELS: dict[str, type[nn.Module]] = {"srcnn": SRCNN, **COMPACT}
#: Largest sizes a compact model's ``.json`` may ask for (far above the shipped ones).
_LIMITS = dict(d=512, s=512, m=64, n1=1024, n2=1024, width=512, blocks=128, channels=3,
               scale=8)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name.lower() not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return name.lower()


def weights_path(name: str, scale: int, config: str = "9-5-5") -> Path:
    """Path of the shipped weights of a model, e.g. ``srlib/weights/espcn_x3.pt``.

    SRCNN's files also name the configuration: ``srcnn_<config>_x<scale>.pt``.

    >>> weights_path("fsrcnn", 2).name, weights_path("srcnn", 3).name
    ('fsrcnn_x2.pt', 'srcnn_9-5-5_x3.pt')
    """
    name = _check_name(name)
    if name == "srcnn":
        return srcnn.weights_path(name, scale, config)
    _check_scale(scale)
    return WEIGHTS_DIR / f"{name}_x{scale}.pt"


def _bad(file: Path, what: str) -> ValueError:
    return ValueError(f"{file}: {what}; pass the weights made for the model and scale you "
                      "ask for")


def _compact_kwargs(name: str, meta: Path, scale: int) -> dict:
    """Constructor arguments of a compact model from its ``.json``, checked."""
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: no description of the weights beside them (the "
                                "training writes one); it says the model's sizes")
    try:
        info = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _bad(meta, f"not a readable JSON file ({err})") from err
    if not isinstance(info, dict) or not isinstance(info.get("model"), dict):
        raise _bad(meta, "not a weights description (a JSON object with a 'model' object)")
    if info.get("name") != name:
        raise _bad(meta, f"the weights are for model {info.get('name')!r}, not {name!r}")
    kwargs = dict(info["model"])
    allowed = set(COMPACT[name](2).config)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise _bad(meta, f"unknown model fields {unknown} (known: {', '.join(sorted(allowed))})")
    for key, value in kwargs.items():
        limit = _LIMITS[key]
        low = 0 if key == "blocks" else 1
        if (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= limit
                or (key == "channels" and value not in (1, 3))):
            raise _bad(meta, f"{key}={value!r} is not valid (an int from {low} to {limit})")
    if kwargs.get("scale", scale) != scale or info.get("scale", scale) != scale:
        raise _bad(meta, f"the weights are for scale {kwargs.get('scale', info.get('scale'))},"
                   f" not {scale}")
    kwargs["scale"] = scale
    return kwargs


def load_pretrained(
    name: str = "srcnn",
    scale: int = 3,
    config: str = "9-5-5",
    *,
    path: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load a shipped (or your own) trained model by name, in eval mode.

    Args:
        name: ``"srcnn"``, ``"fsrcnn"``, ``"espcn"`` or ``"residual"`` (:data:`MODELS`).
        scale: 2, 3 or 4 for the shipped weights.
        config: SRCNN only: ``"9-1-5"`` or ``"9-5-5"``.
        path: a weights file (``.pt``, with its ``.json`` beside it) instead of the shipped
            one, e.g. ``runs/espcn_x3/espcn_x3.pt`` made by :mod:`srlib.train`.
        device: where to put the model.

    The ``.pt`` is a plain ``state_dict`` loaded with ``torch.load(..., weights_only=True)``
    (never runs code from the file); a training checkpoint is accepted too.  The ``.json``
    beside it gives the model's sizes and is checked against ``name`` and ``scale``.

    Raises:
        FileNotFoundError: no weights; the message says how to train them.
        ValueError: an unknown name, weights for another model or scale, or a file that is
            not a weights file (the message names the file).

    Example::

        >>> load_pretrained("fsrcnn", 4).scale                     # doctest: +SKIP
        4
    """
    name = _check_name(name)
    if name == "srcnn":
        return srcnn.load_pretrained(name, scale, config, path=path, device=device)
    _check_scale(scale)
    if path is None and scale not in (2, 3, 4):
        raise ValueError(f"srlib ships {name} weights for scales 2, 3 and 4 only, not "
                         f"{scale}: pass path=... to load weights of your own")
    file = Path(path) if path is not None else weights_path(name, scale)
    if not file.is_file():
        raise FileNotFoundError(
            f"no {name} weights at {file}. Train them with `python -m srlib.train --model "
            f"{name} --scale {scale} --out runs/{name}_x{scale}` and copy "
            f"runs/{name}_x{scale}/{name}_x{scale}.pt (and its .json) to {WEIGHTS_DIR}/, "
            "or pass path=..."
        )
    model = COMPACT[name](**_compact_kwargs(name, file.with_suffix(".json"), scale))
    return srcnn._load_weights(model, file, f"{name} x{scale}", device, _bad)
