"""Test set-up: use the project's offline hub cache when it sits beside the checkout.

CI (``.ci/run``) and the Makefile set ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE=1`` themselves;
this only fills them in for a developer who runs plain ``pytest`` next to ``../shared``.
It must run before ``huggingface_hub`` is imported, which reads them once.
"""

import os
from pathlib import Path

_SHARED_CACHE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hf-cache"

if "HF_HUB_CACHE" not in os.environ and _SHARED_CACHE.is_dir():
    os.environ["HF_HUB_CACHE"] = str(_SHARED_CACHE)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
