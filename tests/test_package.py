"""The book runs wherever a reader opens it: the package, the set-up cells, Binder.

A reader who runs ``pip install .`` or ``pip install git+<repository>`` gets a wheel built
from these sources; it must hold T91 (91 images and their checksums) and the shipped weights.
The wheel is built from a copy of the sources, so the checkout gains no ``build/`` folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "srlib", src / "srlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("srlib-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


def test_wheel_holds_t91(wheel):
    names = wheel.namelist()
    pngs = sorted(n for n in names if n.startswith("srlib/T91/") and n.endswith(".png"))
    assert len(pngs) == 91
    assert "srlib/T91/SHA256SUMS" in names
    listed = wheel.read("srlib/T91/SHA256SUMS").decode().split()[1::2]
    assert sorted("srlib/T91/" + n for n in listed) == pngs
    # the same bytes as the repository's copy
    assert wheel.read("srlib/T91/t1.png") == (ROOT / "srlib" / "T91" / "t1.png").read_bytes()


def test_wheel_holds_the_weights_and_the_table_of_results(wheel):
    names = set(wheel.namelist())
    assert "srlib/papers.csv" in names
    for scale in (2, 3, 4):
        assert f"srlib/weights/srcnn_9-5-5_x{scale}.pt" in names
        assert f"srlib/weights/srcnn_9-5-5_x{scale}.json" in names


# ------------------------------------------------------------------ every notebook sets up
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_every_notebook_starts_with_the_same_setup_cell():
    firsts = {p.name: "".join(_code_cells(p)[0]["source"]) for p in NOTEBOOKS}
    assert len(firsts) >= 6
    assert len(set(firsts.values())) == 1, "the set-up cells differ between notebooks"
    setup = next(iter(firsts.values()))
    # installs from the repository the book's launch buttons point at, with the extras
    assert f'%pip install --quiet "srlib[book] @ git+{_repository_url()}"' in setup
    # only where srlib is missing (so never in CI, where the environment has it) ...
    assert 'if importlib.util.find_spec("srlib") is None:' in setup
    # ... and never replaces the platform's torch: srlib's only pip line, no torch pin,
    # no --upgrade or --force-reinstall (srlib's dependency on torch has no version)
    assert setup.count("%pip") == 1 and "--upgrade" not in setup and "--force" not in setup
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch" in deps
    for p in NOTEBOOKS:
        meta = _code_cells(p)[0]["metadata"]
        assert "hide-input" in meta.get("tags", []), p.name       # collapsed in the HTML
        assert meta.get("jupyter", {}).get("source_hidden"), p.name  # and in JupyterLab


def test_setup_cell_does_nothing_where_srlib_imports():
    # run its Python (the %pip line is IPython's): where srlib is found, no install is tried
    setup = "".join(_code_cells(NOTEBOOKS[0])[0]["source"])
    calls = []
    code = setup.replace("    %pip install", "    calls.append('pip')  #")
    exec(compile(code, "setup-cell", "exec"), {"calls": calls})
    assert calls == []


def test_book_extra_lists_what_the_notebooks_import():
    extra = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                ["project"]["optional-dependencies"]["book"])
    required = {re.split(r"[=<>\[ ]", line, maxsplit=1)[0].strip().lower()
                for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "-"))}
    assert extra <= required
    imported = set()
    for p in NOTEBOOKS:
        for cell in _code_cells(p):
            imported |= set(re.findall(r"^\s*(?:import|from)\s+(\w+)", "".join(cell["source"]),
                                       re.M))
    top = {"kornia": "kornia", "skimage": "scikit-image", "torchmetrics": "torchmetrics",
           "ignite": "pytorch-ignite", "ipywidgets": "ipywidgets"}
    assert {top[m] for m in imported if m in top} <= extra


def test_pages_hold_no_build_machine_settings():
    for p in NOTEBOOKS:
        for cell in _code_cells(p)[1:]:
            src = "".join(cell["source"])
            assert "set_num_threads" not in src, p.name
            assert "../" not in src and "shared/" not in src, p.name   # any working directory
            assert "find_spec" not in src, p.name


def _labels_and_references() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every label the book defines (figure names, ``(label)=`` targets, ``:name:`` options)
    and every ``{numref}``/``{ref}`` target, each with the notebook it is in."""
    labels, refs = [], []
    for p in NOTEBOOKS:
        for cell in json.loads(p.read_text())["cells"]:
            fig = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
            if "name" in fig:
                labels.append((fig["name"], p.name))
            if cell["cell_type"] != "markdown":
                continue
            src = "".join(cell["source"])
            labels += [(m, p.name) for m in re.findall(r"^\(([\w-]+)\)=", src, re.M)]
            labels += [(m, p.name) for m in re.findall(r"^:name:\s*([\w-]+)", src, re.M)]
            refs += [(m, p.name) for m in
                     re.findall(r"\{(?:numref|ref)\}`(?:[^`<]*<)?([\w-]+)>?`", src)]
    return labels, refs


def test_labels_are_unique_and_every_reference_has_a_target():
    # Sphinx warns on both (a duplicate label, an unknown target), and the book builds with
    # -W: this finds them in a second, not at the end of a 12-minute build
    labels, refs = _labels_and_references()
    assert len(labels) > 50, "the label scan found the book's figures"
    seen: dict[str, str] = {}
    dupes = []
    for name, nb in labels:
        if name in seen:
            dupes.append(f"{name} in {seen[name]} and {nb}")
        seen.setdefault(name, nb)
    assert not dupes, dupes
    missing = [f"{name} (referenced in {nb})" for name, nb in refs if name not in seen]
    assert not missing, missing


# ----------------------------------------------------------------------------- Binder
def test_binder_installs_the_cpu_build_of_the_pinned_torch():
    pin = re.search(r"^torch==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M)
    binder = (ROOT / "binder" / "requirements.txt").read_text()
    assert pin, "requirements.txt pins torch"
    assert f"torch=={pin.group(1)}+cpu" in binder.splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder.splitlines()
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-cache-dir -r requirements.txt" in post.read_text()
