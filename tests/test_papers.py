"""The table of published results (srlib/papers.csv): well formed, sourced, used everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from srlib.papers import PAPERS_CSV, paper_value, published

ROOT = Path(__file__).resolve().parents[1]
STATUSES = ("confirmed", "secondary", "supplied", "unconfirmed")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return published()


def test_every_row_names_its_source(table):
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    assert table["paper"].isin(keys).all(), set(table["paper"]) - keys
    assert table["table"].str.len().gt(0).all()
    assert table["status"].str.startswith(STATUSES).all()


def test_values_are_plausible_and_unique(table):
    scored = table.dropna(subset=["psnr"])
    assert scored["psnr"].between(20, 45).all()
    assert table["ssim"].dropna().between(0, 1).all()
    assert set(scored["dataset"]) <= {"Set5", "Set14", "BSD100"}
    assert set(scored["scale"]) <= {2, 3, 4}
    assert table["pi"].dropna().between(0, 10).all()
    assert table.dropna(subset=["pi"])["image"].notna().all()   # PI only per image here
    key = ["method", "paper", "dataset", "scale", "image"]
    assert not table.dropna(subset=["dataset"]).duplicated(key).any()


def test_paper_value_names_the_source_it_needs():
    # SRCNN TPAMI Set5 x4: 30.49 in its own Table 2, 30.48 in VDSR's re-test
    assert paper_value("SRCNN (TPAMI)", "Set5", 4, paper="dong2016srcnn") == 30.49
    assert paper_value("SRCNN (TPAMI)", "Set5", 4, paper="kim2016vdsr") == 30.48
    with pytest.raises(KeyError, match="paper="):
        paper_value("SRCNN (TPAMI)", "Set5", 4)
    with pytest.raises(KeyError, match="prints no ssim"):
        paper_value("SRCNN (ECCV)", "Set5", 3, metric="ssim")
    with pytest.raises(KeyError, match="0 results"):
        paper_value("bicubic", "Set5", 8)
    with pytest.raises(ValueError, match="no column"):
        published(methd="bicubic")


def test_bicubic_rows_of_evaluate_come_from_the_table():
    from srlib.evaluate import PAPER_BICUBIC

    assert len(PAPER_BICUBIC) == 9
    for (dataset, scale), (p, s) in PAPER_BICUBIC.items():
        assert p == paper_value("bicubic", dataset, scale)
        assert s == paper_value("bicubic", dataset, scale, metric="ssim")


def test_readme_quotes_the_table():
    """The README's SRCNN table: the paper columns are the table's values."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| x([234]) \| ([\d.| ]+)\|$", text, re.M)
    assert len(rows) >= 3
    for scale, cells in rows:
        values = [float(v) for v in cells.split("|")]
        if len(values) != 7:     # another table
            continue
        scale = int(scale)
        assert values[1] == paper_value("SRCNN (ECCV)", "Set5", scale)
        assert values[2] == paper_value("SRCNN (TPAMI)", "Set5", scale, paper="dong2016srcnn")
        assert values[4] == paper_value("SRCNN (TPAMI)", "Set14", scale, paper="kim2016vdsr")
        assert values[6] == paper_value("SRCNN (TPAMI)", "BSD100", scale, paper="kim2016vdsr")


def test_no_chapter_types_a_paper_number(table):
    """The notebooks' code reads paper numbers from the table instead of typing them."""
    import json

    printed = {f"{v:.2f}" for v in table["psnr"].dropna()}
    printed |= {f"{v:.4f}" for v in table["ssim"].dropna()}
    printed |= {f"{v:.2f}" for v in table["pi"].dropna()}
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(p.read_text())["cells"]
                         if c["cell_type"] == "code")
        typed = set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", code)) & printed
        assert not typed, f"{p.name} types {sorted(typed)}: read them with srlib.papers"


def test_csv_is_in_the_package():
    assert PAPERS_CSV.parent.name == "srlib" and PAPERS_CSV.is_file()


# Chapter 6 (issue 16): every number it draws is read in a named source.

def _survey(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["survey"].eq(1)]


NUMBERS = ["psnr", "ssim", "pi", "params_m", "macs_g"]


def test_unchecked_rows_carry_no_number(table):
    """A row not re-read by the book (unconfirmed) has no number; chapter 6 draws none
    that was only supplied."""
    unconfirmed = table[table["status"].str.startswith("unconfirmed")]
    assert unconfirmed[NUMBERS].isna().all().all(), unconfirmed[["method", "paper"]]
    survey = _survey(table)
    unchecked = survey[survey["status"].str.startswith(("unconfirmed", "supplied"))]
    assert unchecked[NUMBERS].isna().all().all(), unchecked[["method", "paper", "status"]]


def test_survey_rows_name_where_they_were_read(table):
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    survey = _survey(table)
    assert survey["paper"].isin(keys).all()
    assert survey["table"].fillna("").str.strip().str.len().gt(0).all()
    read = survey[survey["status"].str.startswith(("confirmed", "secondary"))]
    # a repository (owner/name) or a named web table says where the number was read
    where = read["status"].str.contains(r"[\w-]+/[\w.-]+|jmis\.org", regex=True)
    assert where.all(), read.loc[~where, ["method", "status"]]


def test_lightweight_rows_have_params_and_mult_adds(table):
    light = table[table["kind"].eq("lightweight")]
    assert len(light) and light["scale"].eq(4).all()
    assert light["params_m"].between(0, 2).all() and light["macs_g"].gt(0).all()
    assert table.loc[~table["kind"].eq("lightweight"), "macs_g"].isna().all()
    drawn = _survey(light)
    for method in ["FSRCNN", "ESPCN", "IMDN", "SwinIR-light", "SAFMN"]:
        assert drawn[drawn["method"].eq(method) & drawn["dataset"].eq("Set5")].shape[0] == 1


def test_known_sourcing_problems_stay_fixed(table):
    survey = _survey(table)
    # ESPCN's x4 numbers are not in EDSR's table: the classic rows carry none
    espcn = table[table["method"].eq("ESPCN") & ~table["kind"].eq("lightweight")]
    assert espcn["psnr"].isna().all() and not espcn["survey"].eq(1).any()
    # HAN's parameter count names the table it comes from and the config not read
    han = survey[survey["method"].eq("HAN")]
    assert han["status"].str.contains("SAFMN").all()
    assert han["status"].str.contains("wwlu/HAN").all()
    # DRLN read in its repository's table images; CAR's parameters found
    assert survey[survey["method"].eq("DRLN")]["status"].str.contains("saeed-anwar/DRLN").all()
    assert survey[survey["method"].eq("CAR (+EDSR)")]["params_m"].notna().all()
    # HAT: SSIM and x2 are there
    hat = survey[survey["method"].eq("HAT")]
    assert hat["ssim"].notna().all() and set(hat["scale"]) == {2, 4}


def test_chapter6_cites_only_known_papers_and_types_no_paper_number(table):
    import json

    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))
    cells = json.loads((ROOT / "notebooks" / "06_state_of_the_art.ipynb").read_text())["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    cited = {k.strip() for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", prose)
             for k in group.split(",")}
    assert cited and cited <= keys, cited - keys
    printed = {f"{v:.2f}" for v in table["psnr"].dropna()}
    printed |= {f"{v:.4f}" for v in table["ssim"].dropna()}
    typed = set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", prose)) & printed
    assert not typed, f"chapter 6's prose types {sorted(typed)}: format them from the table"
