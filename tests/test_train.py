"""Tests of srlib.train: data pipeline, patches, a tiny training, resume, NaN guard, CLI.

The training runs use 3 images of T91 and a few steps, on the CPU with one thread.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import srlib.train as train_module
from srlib.color import rgb_to_y
from srlib.data import t91_dir
from srlib.models import build, load_pretrained
from srlib.resize import imresize, modcrop
from srlib.train import (
    degrade,
    extract_patches,
    list_images,
    load_hr,
    main,
    make_patches,
    resolve_data_dir,
    split_images,
    train,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def t91() -> Path:
    """T91 as shipped inside srlib (every file checked against its SHA-256 sum)."""
    return t91_dir(verify=True)


@pytest.fixture()
def tiny(t91, tmp_path) -> Path:
    """A folder with 3 small T91 images (1 is held out for validation)."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("t1.png", "t10.png", "t11.png"):
        shutil.copy(t91 / name, folder / name)
    return folder


KW = dict(batch_size=32, progress=False, device="cpu")


def test_t91_split(t91):
    files = list_images(t91)
    assert len(files) == 91
    train_files, val_files = split_images(files)
    assert len(val_files) == 10 and len(train_files) == 81
    assert not set(train_files) & set(val_files)
    assert val_files == files[::10]


def test_resolve_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SRLIB_DATA_DIR", raising=False)
    assert resolve_data_dir() == t91_dir()          # the shipped T91 by default
    monkeypatch.setenv("SRLIB_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(t91_dir()) == t91_dir()  # an explicit folder wins
    with pytest.raises(FileNotFoundError, match="does not exist.*ships with srlib"):
        resolve_data_dir(tmp_path / "missing")
    (tmp_path / "t1.png").write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        resolve_data_dir(tmp_path / "t1.png")
    monkeypatch.setenv("SRLIB_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="SRLIB_DATA_DIR"):
        resolve_data_dir()


def test_no_message_points_at_the_project_machines():
    # a reader's machine has no ../shared: no error message may send them there
    modules = sorted(Path(t91_dir()).parent.rglob("*.py"))
    assert len(modules) > 10
    for module in modules:
        assert "shared/data" not in module.read_text(), module


def test_t91_verify_finds_a_changed_file(tmp_path, monkeypatch):
    import srlib.data as data

    copy = tmp_path / "srlib"
    shutil.copytree(Path(data.__file__).parent / "T91", copy / "T91")
    monkeypatch.setattr(data, "__file__", str(copy / "data.py"))
    assert data.t91_dir(verify=True) == copy / "T91"
    (copy / "T91" / "t1.png").write_bytes(b"not the image")
    with pytest.raises(ValueError, match="t1.png"):
        data.t91_dir(verify=True)
    (copy / "T91" / "t1.png").unlink()
    with pytest.raises(FileNotFoundError, match="90 of 91"):
        data.t91_dir()


def test_degradation_is_the_resize_path(t91):
    hr = load_hr(t91 / "t1.png")
    assert hr.dtype == torch.uint8 and hr.shape[:2] == (1, 3)
    for scale in (2, 3, 4):
        inp, tgt = degrade(hr, scale)
        hr_c = modcrop(hr, scale)
        lr = imresize(hr_c, 1 / scale)
        assert lr.dtype == torch.uint8
        expected = imresize(rgb_to_y(lr.float() / 255), scale)
        assert inp.shape == tgt.shape == (1, 1, *hr_c.shape[-2:])
        torch.testing.assert_close(inp, expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(tgt, rgb_to_y(hr_c.float() / 255))
        # RGB upscaled then Y gives the same input (both steps are linear)
        torch.testing.assert_close(inp, rgb_to_y(imresize(lr.float() / 255, scale)),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("shrink", [0, 12, 16])
def test_patch_counts_and_alignment(shrink):
    h, w, p, s = 75, 60, 33, 14
    inp = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    tgt = -inp
    x, y = extract_patches(inp, tgt, p, s, shrink)
    nh, nw = (h - p) // s + 1, (w - p) // s + 1
    assert x.shape == (nh * nw, 1, p, p)
    assert y.shape == (nh * nw, 1, p - shrink, p - shrink)
    lo = shrink // 2
    for k in (0, 1, nw, nh * nw - 1):
        r, c = (k // nw) * s, (k % nw) * s
        assert torch.equal(x[k, 0], inp[0, 0, r:r + p, c:c + p])
        # the target is the centre of the HR patch, where a valid network's output lands
        assert torch.equal(y[k, 0], tgt[0, 0, r + lo:r + p - (shrink - lo),
                                           c + lo:c + p - (shrink - lo)])
    empty_x, empty_y = extract_patches(inp[..., :20, :], tgt[..., :20, :], p, s, shrink)
    assert len(empty_x) == len(empty_y) == 0


def test_make_patches_t91_count(t91):
    files = list_images(t91)[:2]
    x, y = make_patches(files, 3, shrink=16)
    expected = 0
    for f in files:
        h, w = modcrop(load_hr(f), 3).shape[-2:]
        expected += ((h - 33) // 14 + 1) * ((w - 33) // 14 + 1)
    assert x.shape == (expected, 1, 33, 33) and y.shape == (expected, 1, 17, 17)
    # valid model output on the input patch is aligned with the target patch
    assert torch.allclose(x[:, :, 8:25, 8:25].mean(), y.mean(), atol=0.01)


def test_tiny_training_lowers_the_loss(tiny, tmp_path):
    r = train(3, "9-1-5", epochs=3, out_dir=tmp_path / "run", data_dir=tiny,
              lr=1e-3, lr_last_factor=1.0, **KW)
    with open(r["log"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "step", "loss", "val_psnr", "lr", "seconds", "world_size"}
    assert {row["world_size"] for row in rows} == {"1"}
    losses = [float(row["loss"]) for row in rows]
    assert losses[-1] < losses[0] / 2
    assert r["val_images"] == 1 and r["steps"] == int(rows[-1]["step"])
    assert Path(r["checkpoint"]).is_file()
    model = load_pretrained("srcnn", 3, "9-1-5", path=r["weights"])
    assert model.padding == "valid"
    with pytest.raises(FileExistsError, match="resume"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", data_dir=tiny, **KW)


def test_resume_is_bit_identical(tiny, tmp_path):
    kw = dict(data_dir=tiny, lr=1e-3, augment=True, **KW)
    full = train(2, "9-1-5", epochs=3, out_dir=tmp_path / "full", **kw)
    part = train(2, "9-1-5", epochs=1, out_dir=tmp_path / "part", **kw)
    assert part["steps"] * 3 == full["steps"]
    resumed = train(2, "9-1-5", epochs=3, out_dir=tmp_path / "part", resume=True, **kw)
    a = torch.load(full["checkpoint"], weights_only=True)
    b = torch.load(resumed["checkpoint"], weights_only=True)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert resumed["loss"] == full["loss"] and resumed["val_psnr"] == full["val_psnr"]
    with open(resumed["log"]) as fh1, open(full["log"]) as fh2:
        cols = lambda rows: [r.split(",")[:5] for r in rows]  # noqa: E731 (not seconds)
        assert cols(fh1.read().splitlines()) == cols(fh2.read().splitlines())
    with pytest.raises(ValueError, match="batch_size"):
        train(2, "9-1-5", epochs=4, out_dir=tmp_path / "part", resume=True,
              **{**kw, "batch_size": 16})


def test_resume_after_kill(tiny, tmp_path):
    """SIGKILL a CLI training after its first checkpoint; --resume ends where a run that
    was never interrupted ends, with the same weights and log."""
    import signal
    import subprocess
    import sys
    import time

    args = ["--scale", "2", "--config", "9-1-5", "--epochs", "8", "--data", str(tiny),
            "--batch-size", "16", "--augment", "--threads", "1", "--no-progress",
            "--device", "cpu"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "srlib.train", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (killed / "last.pt").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = int(torch.load(killed / "last.pt", weights_only=True)["epoch"])
    assert 1 <= done < 8
    main([*args, "--out", str(killed), "--resume"])
    main([*args, "--out", str(tmp_path / "full")])
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(killed / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 8
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    cols = lambda f: [r.split(",")[:5] for r in f.read_text().splitlines()]  # noqa: E731
    assert cols(killed / "log.csv") == cols(tmp_path / "full" / "log.csv")
    assert not list(killed.glob("*.tmp*")), "a half-written file was left behind"


def test_a_kill_while_saving_an_epoch_loses_no_log_row(tiny, tmp_path, monkeypatch):
    """The end of an epoch writes its log row and its checkpoint; interrupted between the
    two (here: while the log of epoch 2 is written), the resumed run's log is the log of a
    run that never stopped."""
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    full = train(3, "9-1-5", epochs=3, out_dir=tmp_path / "full", **kw)
    real = train_module._write_log

    def dies_at_epoch_2(path, rows):
        if len(rows) == 2:
            raise KeyboardInterrupt
        real(path, rows)

    monkeypatch.setattr(train_module, "_write_log", dies_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(3, "9-1-5", epochs=3, out_dir=tmp_path / "cut", **kw)
    monkeypatch.setattr(train_module, "_write_log", real)
    train(3, "9-1-5", epochs=3, out_dir=tmp_path / "cut", resume=True, **kw)
    cols = lambda f: [r.split(",")[:5] for r in Path(f).read_text().splitlines()]  # noqa: E731
    assert cols(tmp_path / "cut" / "log.csv") == cols(full["log"])
    assert len(cols(full["log"])) == 4


@pytest.mark.parametrize("check_every", [1, 4])
def test_nan_guard(tiny, tmp_path, check_every):
    with pytest.raises(FloatingPointError, match=r"step \d+.*lower the learning rate"):
        train(3, "9-1-5", epochs=2, out_dir=tmp_path / "nan", data_dir=tiny, lr=1e10,
              check_every=check_every, **KW)


def test_nan_guard_names_the_first_bad_step(tiny, tmp_path, monkeypatch):
    """A NaN injected into the 3rd batch is reported as step 3, even when checked later."""
    calls = []
    real_mse = torch.nn.functional.mse_loss

    def mse(pred, target):
        calls.append(1)
        loss = real_mse(pred, target)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setitem(train_module.LOSSES, "mse", mse)
    with pytest.raises(FloatingPointError, match=r"nan at step 3 \(epoch 1, batch 3\)"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "nan", data_dir=tiny, batch_size=16,
              check_every=5, progress=False, device="cpu")


def test_init_from_weights(tiny, tmp_path):
    torch.manual_seed(5)
    path = tmp_path / "init.pt"
    torch.save(build("9-1-5").state_dict(), path)
    r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", data_dir=tiny, init=path,
              lr=1e-12, **KW)
    trained = torch.load(r["weights"], weights_only=True)
    for k, v in torch.load(path, weights_only=True).items():
        torch.testing.assert_close(trained[k], v, atol=1e-9, rtol=0)
    import json

    meta = json.loads(Path(r["weights"]).with_suffix(".json").read_text())
    assert meta["settings"]["init"] == "init.pt"


def test_cli(tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    main(["--scale", "4", "--config", "9-1-5", "--epochs", "1", "--out", str(out),
          "--data", str(tiny), "--batch-size", "16", "--threads", "1", "--no-progress"])
    text = capsys.readouterr().out
    assert f"checkpoint: {out / 'last.pt'}" in text and "log:" in text
    assert (out / "log.csv").is_file() and (out / "srcnn_9-1-5_x4.json").is_file()


def test_save_every_and_progress_stream(tiny, tmp_path):
    import io

    stream = io.StringIO()
    r = train(3, "9-1-5", epochs=4, out_dir=tmp_path / "run", data_dir=tiny, batch_size=32,
              device="cpu", save_every=2, progress=stream)
    saved = sorted(p.name for p in (tmp_path / "run" / "epochs").iterdir())
    assert saved == ["epoch_0002.pt", "epoch_0004.pt"]
    last = torch.load(r["checkpoint"], weights_only=True)["model"]
    kept = torch.load(tmp_path / "run" / "epochs" / "epoch_0004.pt", weights_only=True)
    assert all(torch.equal(last[k], kept[k]) for k in last)
    assert "SRCNN 9-1-5 x3" in stream.getvalue()
    # on a stream the bar is redrawn every few seconds and per epoch, not every step
    assert stream.getvalue().count("\r") <= 4 + 3, stream.getvalue()


def test_cli_trains_on_the_shipped_t91_without_data(tmp_path):
    # the newcomer's path: no --data, no SRLIB_DATA_DIR, nothing beside the checkout
    env = {k: v for k, v in os.environ.items() if k != "SRLIB_DATA_DIR"}
    env["OMP_NUM_THREADS"] = "1"
    out = tmp_path / "try"
    proc = subprocess.run(
        [sys.executable, "-m", "srlib.train", "--scale", "3", "--epochs", "1",
         "--max-images", "4", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    # one epoch on 3 images does not beat bicubic: the run completes, says so, exits 3
    assert proc.returncode == 3, proc.stderr
    assert "below bicubic" in proc.stderr and "Traceback" not in proc.stderr
    assert "best validation PSNR" in proc.stdout
    meta = json.loads((out / "srcnn_9-5-5_x3.json").read_text())
    assert meta["settings"]["data_dir"] == "T91"
    assert meta["settings"]["data_files"] == ["t1.png", "t10.png", "t11.png", "t12.png"]


def test_16bit_png_trains_on_its_content_not_white(t91, tmp_path):
    """Pillow's convert("RGB") clips a 16-bit gray PNG to white: load_hr must not."""
    import numpy as np
    from PIL import Image

    gray8 = np.asarray(Image.open(t91 / "t1.png").convert("L")).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(gray8 * 257).save(path)             # 16-bit, the same levels
    assert Image.open(path).mode == "I;16"
    hr = load_hr(path)
    assert hr.shape[:2] == (1, 3) and hr.dtype == torch.uint8
    assert torch.equal(hr[0, 0], torch.from_numpy(gray8.astype(np.uint8)))
    x, y = degrade(hr, 3)
    assert y.std() > 0.05                                 # not a flat white image


# --- issue 11: no lost files, no silent wrong result, one-line errors -----------------------
from srlib import cli  # noqa: E402
from srlib.models import WEIGHTS_DIR  # noqa: E402
from srlib.train import EXIT_BELOW_BICUBIC, _command, _parser  # noqa: E402


def _cli(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()  # drop what earlier calls printed
    code = cli.run(_command, argv)
    return code, capsys.readouterr().err


def _another_run(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "log.csv").write_text("epoch,step\n1,10\n")
    (folder / "srcnn_9-1-5_x3.pt").write_bytes(b"precious weights")
    (folder / "srcnn_9-1-5_x3.json").write_text("{}")


def test_another_runs_files_are_not_overwritten(tiny, tmp_path):
    out = tmp_path / "other"
    _another_run(out)
    for resume in (False, True):
        with pytest.raises(FileExistsError, match="another run.*no last.pt.*overwrite"):
            train(3, "9-1-5", epochs=1, out_dir=out, data_dir=tiny, resume=resume, **KW)
    assert (out / "srcnn_9-1-5_x3.pt").read_bytes() == b"precious weights"
    assert (out / "log.csv").read_text() == "epoch,step\n1,10\n"
    r = train(3, "9-1-5", epochs=1, out_dir=out, data_dir=tiny, overwrite=True, lr=1e-3, **KW)
    assert (out / "srcnn_9-1-5_x3.pt").read_bytes() != b"precious weights"
    assert [row["epoch"] for row in csv.DictReader(open(r["log"]))] == ["1"]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a-file", data_dir=tiny, **KW)
    # a run killed in its first epoch leaves a log without rows: resume simply starts
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "log.csv").write_text("epoch,step,loss,val_psnr,lr,seconds\n")
    assert train(3, "9-1-5", epochs=1, out_dir=tmp_path / "killed", data_dir=tiny,
                 resume=True, lr=1e-3, **KW)["epochs"] == 1
    # resume=True on an empty or missing folder simply starts (chapter 5 relies on it)
    (tmp_path / "empty").mkdir()
    for name in ("empty", "missing"):
        r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / name, data_dir=tiny, resume=True,
                  lr=1e-3, **KW)
        assert r["epochs"] == 1


@pytest.mark.parametrize("how", ["absolute", "relative", "symlink", "inside"])
def test_never_writes_into_the_shipped_weights(tiny, tmp_path, monkeypatch, how):
    import hashlib

    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in WEIGHTS_DIR.iterdir()}
    out = {"absolute": WEIGHTS_DIR, "inside": WEIGHTS_DIR / "sub"}.get(how)
    if how == "relative":
        monkeypatch.chdir(WEIGHTS_DIR.parent / "T91")
        out = Path("..") / "weights"
    elif how == "symlink":
        out = tmp_path / "link"
        out.symlink_to(WEIGHTS_DIR)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="shipped weights.*Train into another folder"):
            train(3, "9-5-5", epochs=1, out_dir=out, data_dir=tiny, overwrite=overwrite, **KW)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in WEIGHTS_DIR.iterdir()}
    assert after == before


def test_resume_compares_the_content_of_the_images(tiny, tmp_path, t91):
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", **kw)
    shutil.copy(t91 / "t2.png", tiny / "t11.png")   # same names, other image
    with pytest.raises(ValueError, match=r"images changed.*t11\.png"):
        train(3, "9-1-5", epochs=2, out_dir=tmp_path / "run", resume=True, **kw)


def test_resume_of_an_old_checkpoint_without_hashes_warns(tiny, tmp_path):
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", **kw)
    ckpt = torch.load(r["checkpoint"], weights_only=True)
    del ckpt["settings"]["data_sha256"]
    torch.save(ckpt, r["checkpoint"])
    with pytest.warns(UserWarning, match="only their names were compared"):
        assert train(3, "9-1-5", epochs=2, out_dir=tmp_path / "run", resume=True,
                     **kw)["epochs"] == 2


@pytest.mark.parametrize("damage", ["truncated", "empty", "text", "fields", "state"])
def test_damaged_checkpoint_is_named(tiny, tmp_path, damage, capsys):
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", **kw)
    ckpt = Path(r["checkpoint"])
    blob = ckpt.read_bytes()
    if damage == "truncated":
        ckpt.write_bytes(blob[: len(blob) // 2])
    elif damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "text":
        ckpt.write_text("hello")
    elif damage == "fields":
        torch.save({"model": {}}, ckpt)
    else:                                   # every field there, the model's tensors wrong
        state = torch.load(ckpt, weights_only=True)
        state["model"] = {k: v[..., :1] for k, v in state["model"].items()}
        torch.save(state, ckpt)
    with pytest.raises(ValueError, match=r"checkpoint .*last\.pt is damaged.*delete it"):
        train(3, "9-1-5", epochs=2, out_dir=tmp_path / "run", resume=True, **kw)
    code, err = _cli(["--scale", "3", "--config", "9-1-5", "--epochs", "2", "--out",
                      str(tmp_path / "run"), "--data", str(tiny), "--resume",
                      "--batch-size", "32", "--lr", "1e-3", "--no-progress", "--device",
                      "cpu"], capsys)
    assert code == 2 and err.count("\n") == 1 and "is damaged" in err


def test_below_bicubic_warns_and_the_cli_exits_3(tiny, tmp_path, capsys):
    with pytest.warns(RuntimeWarning, match="below bicubic"):
        r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", data_dir=tiny, lr=1e-12, **KW)
    assert r["below_bicubic"] and r["best_val_psnr"] < r["val_bicubic_psnr"]
    code, err = _cli(["--scale", "3", "--config", "9-1-5", "--epochs", "1", "--out",
                      str(tmp_path / "b"), "--data", str(tiny), "--lr", "1e-12",
                      "--batch-size", "32", "--no-progress", "--device", "cpu"], capsys)
    assert code == EXIT_BELOW_BICUBIC == 3
    assert err.startswith("warning: the best weights score") and err.count("\n") == 1, err


@pytest.mark.parametrize("args, match", [
    (["--max-images", "-1"], "--max-images.*not a positive integer"),
    (["--max-images", "0"], "--max-images.*not a positive integer"),
    (["--epochs", "0"], "--epochs.*not a positive integer"),
    (["--lr", "-1"], "--lr.*not a positive number"),
    (["--lr", "nan"], "--lr.*not a positive number"),
    (["--save-every", "-2"], "--save-every"),
    (["--scale", "5"], "scale must be one of 2, 3, 4.*shipped weights exist only"),
    (["--scale", "1"], "scale must be one of 2, 3, 4"),
    (["--patch-size", "10"], "patch_size=10 is too small.*16 pixels smaller"),
    (["--val-fraction", "1.5"], "val_fraction"),
    (["--device", "nonsense"], "unknown device 'nonsense'"),
    (["--device", "cuda" if not torch.cuda.is_available() else "mps"], "not available"),
    (["--seed", str(2**70)], "seed must be an integer"),
])
def test_cli_user_errors_are_one_line(tiny, tmp_path, capsys, args, match):
    import re

    base = {"--scale": "3", "--out": str(tmp_path / "run"), "--data": str(tiny),
            "--epochs": "1", "--no-progress": None}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = [x for k, v in base.items() for x in ((k,) if v is None else (k, v))]
    with pytest.raises(SystemExit) if args[0] in ("--max-images", "--epochs", "--lr",
                                                    "--save-every") else _nothing():
        code, err = _cli(argv, capsys)
        assert code == 2
    err = capsys.readouterr().err if args[0] in ("--max-images", "--epochs", "--lr",
                                                  "--save-every") else err
    assert re.search(match, err), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run" / "last.pt").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_train_refuses_bad_values_too(tiny, tmp_path):
    kw = dict(out_dir=tmp_path / "r", data_dir=tiny, **KW)
    for bad, match in ((dict(max_images=-1), "max_images"), (dict(max_images=0), "max_images"),
                       (dict(threads=0), "threads"), (dict(save_every=-1), "save_every"),
                       (dict(lr_last_factor=float("inf")), "lr_last_factor")):
        with pytest.raises(ValueError, match=match):
            train(3, "9-1-5", epochs=1, **kw, **bad)
    for scale in (1, 5, 8, 3.0, True):
        with pytest.raises(ValueError, match="scale must be one of 2, 3, 4"):
            train(scale, "9-1-5", epochs=1, **kw)


def test_images_that_cannot_be_used_are_named(tiny, tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8), (10, 20, 30)).save(tiny / "t0.png")  # first by name: validation
    with pytest.raises(ValueError, match=r"validation image .*t0\.png is 6x6.*too small"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", data_dir=tiny, **KW)
    (tiny / "t0.png").unlink()
    blob = (tiny / "t10.png").read_bytes()
    (tiny / "t10.png").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"t10\.png.*damaged or truncated"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "b", data_dir=tiny, **KW)
    (tiny / "t10.png").write_text("not a png")
    with pytest.raises(ValueError, match=r"t10\.png.*not an image"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "c", data_dir=tiny, **KW)


def test_bad_init_file_is_named(tiny, tmp_path):
    bad = tmp_path / "init.pt"
    bad.write_text("junk")
    with pytest.raises(ValueError, match=r"init weights .*init\.pt cannot be read"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", data_dir=tiny, init=bad, **KW)
    torch.save(build("9-5-5").state_dict(), bad)
    with pytest.raises(ValueError, match=r"init weights .*do not fit"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "b", data_dir=tiny, init=bad, **KW)


def test_help_shows_every_option_with_its_default():
    p = _parser()
    for action in p._actions:
        assert action.help, action.option_strings
    text = p.format_help()
    flat = " ".join(text.split())                 # argparse wraps to the terminal's width
    assert "(default: 9-5-5)" in flat and "(default: srcnn)" in flat and "Exit codes" in flat
    assert "(recipe: 33 for SRCNN" in flat        # the per-model defaults are named


def test_python_m_prints_one_line_not_a_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "srlib.train", "--scale", "7", "--out",
                           str(tmp_path / "r"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: scale must be one of")
    assert proc.stderr.count("\n") == 1


def test_damaged_log_on_resume_is_named(tiny, tmp_path):
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", **kw)
    Path(r["log"]).write_text("garbage\nx,y\n")
    with pytest.raises(ValueError, match=r"log .*log\.csv is damaged.*delete it"):
        train(3, "9-1-5", epochs=2, out_dir=tmp_path / "run", resume=True, **kw)


def test_extract_patches_names_the_patch_size():
    x = torch.zeros(1, 1, 40, 40)
    with pytest.raises(ValueError, match="patch_size=10 must be larger than shrink=16"):
        extract_patches(x, x, 10, 14, 16)


@pytest.mark.filterwarnings("ignore:the best validation PSNR")
def test_join_runs_chains_the_records_and_logs(tiny, tmp_path):
    """Three runs, each from the weights the one before kept, joined into one record."""
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    a = train(3, "9-1-5", epochs=2, out_dir=tmp_path / "a", **kw)
    b = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "b", init=a["weights"], **kw)
    shipped = tmp_path / "weights" / Path(a["weights"]).name
    shipped.parent.mkdir()
    train_module.join_runs(a["weights"], tmp_path / "b", shipped)
    # the earlier run's files are not touched, and `out` is never overwritten unasked
    assert Path(a["weights"]).is_file() and len(list((tmp_path / "a").glob("*.json"))) == 1
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train_module.join_runs(a["weights"], tmp_path / "b", shipped)
    assert (shipped.read_bytes() == Path(b["weights"]).read_bytes())

    c = train(3, "9-1-5", epochs=2, out_dir=tmp_path / "c", init=shipped, lr=5e-4,
              data_dir=tiny, **KW)
    train_module.join_runs(shipped, tmp_path / "c", shipped, overwrite=True)

    meta = json.loads(shipped.with_suffix(".json").read_text())
    with open(shipped.with_name(shipped.stem + ".log.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    logs = []
    for run in ("a", "b", "c"):
        with open(tmp_path / run / "log.csv", newline="") as fh:
            logs.append(list(csv.DictReader(fh)))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    steps = [int(r["step"]) for r in rows]
    per_run = [int(log[-1]["step"]) for log in logs]
    assert steps[1] == per_run[0] and steps[2] == per_run[0] + per_run[1]
    assert steps[4] == sum(per_run)
    assert [r["loss"] for r in rows] == [r["loss"] for log in logs for r in log]

    history = train_module.run_history(meta)
    assert [h["rows"] for h in history] == [slice(0, 2), slice(2, 3), slice(3, None)]
    assert [h["settings"]["lr"] for h in history] == [1e-3, 1e-3, 5e-4]
    assert [h["settings"]["init"] for h in history] == [None, Path(a["weights"]).name,
                                                        shipped.name]
    for h, log, r in zip(history, logs, (a, b, c), strict=True):
        assert [row["loss"] for row in rows[h["rows"]]] == [row["loss"] for row in log]
        assert h["val_psnr"] == pytest.approx(r["best_val_psnr"])
    assert "data_files" in meta["settings"] and "data_files" not in history[0]["settings"]
    assert meta["epoch"] == json.loads(Path(c["weights"]).with_suffix(".json")
                                       .read_text())["epoch"]


@pytest.mark.filterwarnings("ignore:the best validation PSNR")
def test_join_runs_reads_records_from_before_chapter_7(tiny, tmp_path):
    """SRCNN's first shipped records name no model and no schedule: they are SRCNN's,
    at a constant learning rate, and join a cosine run continued from them."""
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    a = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", schedule="constant", **kw)
    old = Path(a["weights"]).with_suffix(".json")
    meta = json.loads(old.read_text())
    for key in ("model", "model_kwargs", "schedule", "loss", "rescale"):
        meta["settings"].pop(key, None)
    old.write_text(json.dumps(meta))
    train(3, "9-1-5", epochs=1, out_dir=tmp_path / "b", init=a["weights"],
          schedule="cosine", **kw)
    out = train_module.join_runs(a["weights"], tmp_path / "b", tmp_path / "out.pt")
    history = train_module.run_history(json.loads(out.with_suffix(".json").read_text()))
    assert [(h["settings"]["model"], h["settings"]["schedule"]) for h in history] == [
        ("srcnn", "constant"), ("srcnn", "cosine")]
    # a later record that names another model is still refused
    (later,) = (tmp_path / "b").glob("*.json")
    meta = json.loads(later.read_text())
    meta["settings"]["model"] = "fsrcnn"
    later.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="differ in model"):
        train_module.join_runs(a["weights"], tmp_path / "b", tmp_path / "out2.pt")


@pytest.mark.filterwarnings("ignore:the best validation PSNR")
def test_join_runs_refuses_runs_that_do_not_belong_together(tiny, tmp_path):
    kw = dict(data_dir=tiny, lr=1e-3, **KW)
    a = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", **kw)
    b = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "b", **kw)       # not from a
    with pytest.raises(ValueError, match="started from None, not from"):
        train_module.join_runs(a["weights"], tmp_path / "b", tmp_path / "out.pt")
    train(2, "9-1-5", epochs=1, out_dir=tmp_path / "c", init=a["weights"], **kw)
    with pytest.raises(ValueError, match="differ in scale"):
        train_module.join_runs(a["weights"], tmp_path / "c", tmp_path / "out.pt")
    with pytest.raises(FileNotFoundError, match="not 1"):
        train_module.join_runs(a["weights"], tmp_path / "nothing", tmp_path / "out.pt")
    assert not list(tmp_path.glob("out*")) and b["weights"]
    # an old record whose earlier run lacks log_rows is refused, not split wrongly
    meta = json.loads(Path(a["weights"]).with_suffix(".json").read_text())
    meta["previous_run"] = {k: meta[k] for k in ("settings", "epoch", "step", "val_psnr")}
    with pytest.raises(ValueError, match="log_rows"):
        train_module.run_history(meta)


def test_shipped_records_split_their_logs_into_runs():
    """Every shipped weights record's runs cover its log exactly (one row per epoch)."""
    from srlib.models import WEIGHTS_DIR

    for path in sorted(WEIGHTS_DIR.glob("*.json")):
        log = path.with_name(path.stem + ".log.csv")
        if not log.is_file():
            continue
        meta = json.loads(path.read_text())
        with open(log, newline="") as fh:
            rows = list(csv.DictReader(fh))
        history = train_module.run_history(meta)
        lengths = [len(rows[h["rows"]]) for h in history]
        assert sum(lengths) == len(rows), path.name
        for h, n in zip(history, lengths, strict=True):
            assert 0 < n <= h["settings"]["epochs"], path.name  # a run may be stopped early
            kept = rows[h["rows"]][h["epoch"] - 1]          # the kept epoch's row
            assert float(kept["val_psnr"]) == pytest.approx(h["val_psnr"], abs=1e-4), path.name
