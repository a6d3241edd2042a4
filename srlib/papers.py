"""Published results: every number the book quotes from a paper, in one table.

The table is ``srlib/papers.csv``, one row per (method, source, dataset, scale), with the
columns

* ``method`` (e.g. ``"SRCNN (TPAMI)"``), ``dataset`` (``"Set5"``, ``"Set14"``,
  ``"BSD100"``), ``scale`` (2, 3, 4), ``psnr`` (dB) and ``ssim`` as printed (empty where
  the source gives none): the mean over the benchmark;
* ``image`` and ``pi``: empty for those means; for a result on one image, its name and,
  where the source gives it, the perceptual index (PI, lower is more natural);
* ``paper`` (the BibTeX key in ``references.bib`` of the paper the numbers belong to) and
  ``table`` (the table that prints them; a re-test in a later paper names that paper, e.g.
  SRCNN's TPAMI model as re-tested in VDSR's Table 2 has ``paper = kim2016vdsr``);
* ``training``, ``year``, ``venue``, ``params_m`` (millions of parameters, as the source
  prints them; a source may print another count at another scale), ``kind``
  (``"baseline"``, ``"PSNR-oriented"``, ``"perceptual (GAN)"``, ``"different setting"`` or
  ``"lightweight"``: the rows of chapter 6's table of small models);
* ``survey`` (1 for the rows chapter 6 draws) and ``status``: how far the book has checked
  the number, then where it was read (a repository and the path of its README or table
  image, or another paper's table):

  - ``confirmed``: read in the paper's own table, or in its official repository's copy of
    it (a README table, or a table image in the repository);
  - ``secondary``: read only as another paper quotes or re-tests it (the row's ``table``
    names that table);
  - ``supplied``: given to the book with its source, not re-read;
  - ``unconfirmed``: not found in a source we could read; such rows keep no number (the
    status says why).

* ``macs_g``: multiply-adds in G (thousand millions) as the source prints them, for the
  lightweight rows (``kind == "lightweight"``); empty elsewhere.  Sources count them for
  different output sizes and call them "Mult-Adds", "MACs" or "FLOPs" (the ``table``
  column says which), so compare them within one source only.

Chapters 4 to 6, the README and the tests read the numbers from here, so each lives in one
place and names its source once.

Example::

    >>> from srlib.papers import paper_value, published
    >>> paper_value("SRCNN (TPAMI)", "Set5", 4, paper="dong2016srcnn")
    30.49
    >>> paper_value("SRCNN (TPAMI)", "Set5", 4, paper="kim2016vdsr")   # VDSR's re-test
    30.48
    >>> len(published(method="bicubic", dataset="Set5"))
    3
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

__all__ = ["PAPERS_CSV", "means", "paper_value", "published"]

#: The table of published results that ships with srlib.
PAPERS_CSV = Path(__file__).resolve().parent / "papers.csv"


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    table = pd.read_csv(PAPERS_CSV, dtype={"method": str, "dataset": str, "paper": str,
                                           "image": str})
    return table.astype({"scale": "Int64", "year": "Int64"})


def published(**where) -> pd.DataFrame:
    """Rows of the table whose columns equal the given values (a copy).

    >>> published(method="SRCNN (ECCV)", scale=3)[["dataset", "psnr", "table"]]
      dataset   psnr                             table
    0    Set5  32.39  SRCNN ECCV, Table 1 (9-1-5, T91)
    """
    table = _table()
    unknown = set(where) - set(table.columns)
    if unknown:
        raise ValueError(f"no column {sorted(unknown)} in {PAPERS_CSV.name}: choose from "
                         f"{', '.join(table.columns)}")
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        mask &= table[column].eq(value)
    return table[mask].reset_index(drop=True)


def means(**where) -> pd.DataFrame:
    """Like :func:`published`, but only the means over a benchmark (no single images)."""
    rows = published(**where)
    return rows[rows["image"].isna()].reset_index(drop=True)


def paper_value(
    method: str, dataset: str, scale: int, *, metric: str = "psnr", paper: str | None = None
) -> float:
    """One published mean: ``metric`` (``"psnr"`` in dB or ``"ssim"``) of a method.

    Args:
        method, dataset, scale: as in the table (e.g. ``"bicubic"``, ``"Set14"``, 3).
        metric: ``"psnr"`` or ``"ssim"``.
        paper: the source's BibTeX key, needed when several sources print the method's
            result (SRCNN TPAMI: its own paper and VDSR's re-test).

    Raises:
        KeyError: no such result, several sources and no ``paper`` given, or a source that
            prints no value for ``metric`` (the message lists what there is).
    """
    if metric not in ("psnr", "ssim"):
        raise ValueError(f"metric must be 'psnr' or 'ssim', got {metric!r}")
    where = dict(method=method, dataset=dataset, scale=scale)
    if paper is not None:
        where["paper"] = paper
    rows = means(**where)
    if len(rows) != 1:
        found = means(method=method)[["dataset", "scale", "paper"]].to_dict("records")
        raise KeyError(
            f"{len(rows)} results for {where} in {PAPERS_CSV.name}"
            + (" (name the source with paper=...)" if len(rows) > 1 else "")
            + f"; {method!r} has {found}"
        )
    value = float(rows.at[0, metric])
    if math.isnan(value):
        raise KeyError(f"{rows.at[0, 'table']} prints no {metric} for {where}")
    return value
