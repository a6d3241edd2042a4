"""Tests of srlib.distributed and of srlib.train on several processes (torchrun, gloo, CPU).

The runs use 3 small T91 images (212 sub-images at x3, 1 image for validation), SRCNN
9-5-5 started from the shipped x3 weights (so the result beats bicubic and the command
exits with 0), a global batch of 32 and 3 epochs (18 steps): a few seconds per run, most
of it starting Python and torch in each process.  The launcher is the real one: ``python
-m torch.distributed.run`` (``torchrun``) as a subprocess.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from srlib import distributed
from srlib.data import t91_dir
from srlib.models import WEIGHTS_DIR
from srlib.train import train

torch.set_num_threads(1)
TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
INIT = WEIGHTS_DIR / "srcnn_9-5-5_x3.pt"
# the same run for 1 and 2 processes; channels_last, compile and amp off: plain float32
SETTINGS = dict(scale=3, config="9-5-5", epochs=3, batch_size=32, lr=1e-4, augment=True,
                channels_last=False, compile=False, amp=False, threads=1, init=INIT,
                device="cpu", progress=False)
# Float tolerance of "the same weights".  DDP sums two half-batch gradients where one
# process sums one batch: the same numbers added in another order, which changes the last
# bits of float32 (relative 1e-7).  Adam divides by sqrt(v), so such rounding moves a
# weight by about lr * 1e-7 per step, far below this bound; a real error (a wrong shard, a
# missing all-reduce) moves weights by about lr = 1e-4 per step.  Measured on a 2-core
# CPU (torch 2.13): 6e-8, while the weights moved by up to 1.7e-3 from the start.
ATOL = 1e-6


def _argv(out: Path, data: Path) -> list[str]:
    s = SETTINGS
    return ["--scale", str(s["scale"]), "--config", s["config"], "--epochs", str(s["epochs"]),
            "--batch-size", str(s["batch_size"]), "--lr", str(s["lr"]), "--augment",
            "--no-channels-last", "--no-compile", "--no-amp", "--threads", "1",
            "--init", str(INIT), "--device", "cpu", "--no-progress",
            "--out", str(out), "--data", str(data)]


def _torchrun(args: list[str], nproc: int = 2, extra_env: dict | None = None,
              launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           **(extra_env or {})}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RESTART_COUNT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", *launcher, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    for name in ("t1.png", "t10.png", "t11.png"):
        shutil.copy(t91_dir() / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def two_processes(data, tmp_path_factory) -> Path:
    """An uninterrupted 2-process run; its output folder."""
    out = tmp_path_factory.mktemp("ddp") / "run"
    proc = _torchrun(["-m", "srlib.train", *_argv(out, data)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("best validation PSNR") == 1, proc.stdout   # rank 0 speaks
    return out


def _weights(folder: Path) -> dict:
    return torch.load(folder / "last.pt", weights_only=True)["model"]


def _log(folder: Path) -> list[dict]:
    with open(folder / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------- the module alone
def test_world_from_the_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.world() == (0, 1, 0) and distributed.is_main()
    assert not distributed.restarted()
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.world() == (3, 4, 1) and not distributed.is_main()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert distributed.restarted()
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        distributed.world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        distributed.world()


@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_shards_are_disjoint_and_cover_the_batch(world_size):
    batch = torch.randperm(100)[:32]
    parts = [distributed.shard(batch, r, world_size) for r in range(world_size)]
    assert all(len(p) == 32 // world_size for p in parts)
    assert torch.equal(torch.cat(parts), batch)          # in order, nothing twice
    with pytest.raises(ValueError, match="cannot be split into 3 equal parts"):
        distributed.shard(batch, 0, 3)


def test_one_process_helpers_are_trivial():
    t = torch.tensor([1.0, 2.0])
    assert distributed.average(t) is t and distributed.broadcast_object("x") == "x"
    assert distributed.on_main(lambda a, b: a + b, 1, b=2) == 3
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.init("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown backend 'ucc'"):
        distributed.init("cpu", "ucc")
    with pytest.raises(ValueError, match="'nccl' needs CUDA.*gloo"):
        distributed.init("cpu", "nccl")


def test_the_global_batch_must_divide(data, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ValueError, match="batch_size=32 is the global batch of all 3 "
                                         "processes.*batch_size=30"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "r", data_dir=data, batch_size=32,
              progress=False, device="cpu")
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------ torchrun
def test_two_processes_end_with_the_weights_of_one(two_processes, data, tmp_path):
    one = train(out_dir=tmp_path / "one", data_dir=data, **SETTINGS)
    assert one["world_size"] == 1
    a, b = _weights(tmp_path / "one"), _weights(two_processes)
    start = torch.load(INIT, weights_only=True)
    moved = max((a[k] - start[k]).abs().max().item() for k in a)
    assert moved > 100 * ATOL, "the training hardly changed the weights: a void comparison"
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff <= ATOL, f"max abs difference {diff:.2e} > {ATOL:g}"
    # one log, by rank 0, with the same epochs, steps and (rounded) loss as one process
    assert sorted(p.name for p in two_processes.iterdir()) == [
        "last.pt", "log.csv", "srcnn_9-5-5_x3.json", "srcnn_9-5-5_x3.pt"]
    rows1, rows2 = _log(tmp_path / "one"), _log(two_processes)
    assert [(r["epoch"], r["step"]) for r in rows1] == [(r["epoch"], r["step"]) for r in rows2]
    assert {r["world_size"] for r in rows2} == {"2"}
    for r1, r2 in zip(rows1, rows2, strict=True):
        assert float(r1["loss"]) == pytest.approx(float(r2["loss"]), rel=1e-4)
        assert float(r1["val_psnr"]) == pytest.approx(float(r2["val_psnr"]), abs=1e-3)
    import json

    meta = json.loads((two_processes / "srcnn_9-5-5_x3.json").read_text())
    assert meta["world_size"] == 2


def test_a_dead_worker_restarts_the_group_which_resumes(two_processes, data, tmp_path):
    """torchrun --max-restarts=1: rank 1 dies after epoch 1's checkpoint; the restarted
    group resumes from last.pt (TORCHELASTIC_RESTART_COUNT > 0 means resume) and ends with
    the weights of the uninterrupted 2-process run, bit for bit."""
    out, marker = tmp_path / "run", tmp_path / "died"
    proc = _torchrun([str(TESTS / "ddp_worker_that_dies.py"), *_argv(out, data)],
                     launcher=("--max-restarts=1",),
                     extra_env=dict(SRLIB_TEST_DIE_MARKER=str(marker), SRLIB_TEST_DIE_AFTER="1",
                                    SRLIB_TEST_DIE_LOG=str(out / "log.csv")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.read_text() == "rank 1 died after epoch 1\n"   # it did die, once
    a, b = _weights(two_processes), _weights(out)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [r["epoch"] for r in _log(out)] == ["1", "2", "3"]
    cols = lambda rows: [(r["step"], r["loss"], r["val_psnr"]) for r in rows]  # noqa: E731
    assert cols(_log(out)) == cols(_log(two_processes))
    assert not list(out.glob("*.tmp*"))


def test_a_refusal_on_rank_0_stops_every_rank(two_processes, data):
    """The folder holds a finished run and --resume is not given: rank 0 refuses, every rank
    gets its error and exits with the one-line message, none goes on into the folder."""
    before = (two_processes / "last.pt").read_bytes()
    proc = _torchrun(["-m", "srlib.train", *_argv(two_processes, data)])
    assert proc.returncode != 0
    # Rank 0 exits with 2 and one line; rank 1 raises the same error, but torchrun stops it
    # (SIGTERM) as soon as rank 0 has failed, so it may be gone before it prints.  The two
    # may also write at once: their lines can interleave.
    errors = proc.stderr.count("error: ")
    assert 1 <= errors <= 2 and proc.stderr.count("exists: pass resume=True") == errors
    assert "exitcode  : 2 " in proc.stderr, proc.stderr                # torchrun's report
    assert "srlib/train.py" not in proc.stderr, proc.stderr   # no worker traceback (e.g. a
    # rank 1 that went on and found rank 0 gone); torchrun's own shows torch's frames only
    assert (two_processes / "last.pt").read_bytes() == before
