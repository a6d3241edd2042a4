"""srlib.examples: ANR (chapter 4) -- its pieces, the shipped dictionaries, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import examples as ex
from srlib.evaluate import evaluate
from srlib.upscalers import METHODS, halo


# ------------------------------------------------------------------------ pieces
def test_features_shape_and_grid():
    mid = torch.rand(2, 1, 24, 18)
    f = ex.features(mid, 3)                       # 8 x 6 LR pixels: 6 x 4 patches each
    assert f.shape == (2 * 6 * 4, 4 * 9 * 9) and f.dtype == torch.float32
    assert ex.features(mid, 3, step=2, border=1).shape == (2 * 2 * 1, 324)
    # high-pass: a constant image has no features at all
    assert ex.features(torch.full((1, 1, 12, 12), 0.7), 2).abs().max() == 0


def test_omp_recovers_sparse_codes():
    gen = torch.Generator().manual_seed(0)
    for d in (torch.linalg.qr(torch.randn(50, 50, generator=gen))[0],       # orthonormal
              torch.nn.functional.normalize(torch.randn(40, 60, generator=gen), dim=0)):
        k = d.shape[1]
        idx = torch.stack([torch.randperm(k, generator=gen)[:3] for _ in range(200)])
        coef = (torch.rand(200, 3, generator=gen) + 0.5) * torch.sign(torch.randn(200, 3))
        x = sum(d[:, idx[:, t]] * coef[:, t] for t in range(3))
        got_idx, got_coef = ex.omp(d, x, 3, block=64)
        assert got_idx.shape == (200, 3) and got_idx.dtype == torch.int64
        x_hat = sum(d[:, got_idx[:, t]] * got_coef[:, t] for t in range(3))
        exact = ((x_hat - x).norm(dim=0) < 1e-4 * x.norm(dim=0)).float().mean()
        same = (got_idx.sort(1).values == idx.sort(1).values).all(1).float().mean()
        if k == 50:
            assert exact == 1 and same == 1
        else:
            assert exact > 0.9 and same > 0.9
        assert ((x - x_hat).norm(dim=0) <= x.norm(dim=0) + 1e-5).all()


def test_omp_and_ksvd_refuse_bad_input():
    with pytest.raises(ValueError, match=r"D \(d, K\) and x \(d, N\)"):
        ex.omp(torch.rand(5, 8), torch.rand(6, 10))
    with pytest.raises(ValueError, match="sparsity must be in"):
        ex.omp(torch.rand(5, 8), torch.rand(5, 10), sparsity=9)
    with pytest.raises(ValueError, match="at least as many signals as atoms"):
        ex.ksvd(torch.rand(5, 10), atoms=16)


def test_ksvd_is_deterministic_and_lowers_the_error():
    gen = torch.Generator().manual_seed(1)
    truth = torch.nn.functional.normalize(torch.randn(12, 24, generator=gen), dim=0)
    idx = torch.stack([torch.randperm(24, generator=gen)[:2] for _ in range(600)])
    x = sum(truth[:, idx[:, t]] * torch.randn(600, generator=gen) for t in range(2))

    def err(d, i, c):
        return (x - sum(d[:, i[:, t]] * c[:, t] for t in range(2))).norm() / x.norm()

    d0, i0, c0 = ex.ksvd(x, 24, 2, iterations=0, seed=3)
    d1, i1, c1 = ex.ksvd(x, 24, 2, iterations=10, seed=3)
    d2, _, _ = ex.ksvd(x, 24, 2, iterations=10, seed=3)
    assert torch.equal(d1, d2)
    assert torch.allclose(d1.norm(dim=0), torch.ones(24), atol=1e-5)
    assert err(d1, i1, c1) < 0.5 * err(d0, i0, c0)


def test_regressors_equal_the_formula():
    gen = torch.Generator().manual_seed(2)
    lo = torch.nn.functional.normalize(torch.randn(6, 60, generator=gen), dim=0)
    hi = torch.randn(9, 60, generator=gen)
    proj = ex.anr_regressors(lo, hi, neighbours=10, lam=0.01)
    assert proj.shape == (60, 9, 6)
    lo64, hi64 = lo.double().numpy(), hi.double().numpy()
    for i in (0, 17, 59):
        near = np.argsort(-np.abs(lo64.T @ lo64[:, i]), kind="stable")[:10]
        n = lo64[:, near]
        want = 1.01 * hi64[:, near] @ np.linalg.inv(n.T @ n + 0.01 * np.eye(10)) @ n.T
        np.testing.assert_allclose(proj[i].numpy(), want, rtol=1e-4, atol=1e-5)
    # a neighbourhood of every atom is one global regressor (the ANR paper's GR)
    glob = ex.anr_regressors(lo, hi, neighbours=60)
    want = 1.01 * hi64 @ np.linalg.inv(lo64.T @ lo64 + 0.01 * np.eye(60)) @ lo64.T
    assert glob.shape == (60, 9, 6)
    np.testing.assert_allclose(glob[0].numpy(), want, rtol=1e-4, atol=1e-5)
    assert torch.equal(glob[0], glob[59])
    with pytest.raises(ValueError, match="60 LR atoms but 59 HR atoms"):
        ex.anr_regressors(lo, hi[:, :59])


# ------------------------------------------------------------------ shipped model
@pytest.mark.parametrize("scale", ex.ANR_SCALES)
def test_shipped_dictionaries_load(scale):
    path = ex.WEIGHTS_DIR / f"anr_x{scale}.npz"
    assert path.stat().st_size < 2_000_000
    model = ex.load_anr(scale)
    p = 3 * scale
    d = model["pca"].shape[1]
    assert model["pca"].shape == (4 * p * p, d) and 10 <= d <= 80
    assert model["dict_lr"].shape == (d, 1024) and model["dict_hr"].shape == (p * p, 1024)
    assert model["proj"].shape == (1024, p * p, d)
    assert torch.allclose(model["dict_lr"].norm(dim=0), torch.ones(1024), atol=1e-4)
    assert torch.isfinite(model["proj"]).all()


@pytest.mark.parametrize("scale", ex.ANR_SCALES)
def test_anr_beats_bicubic_on_set5_with_the_papers_protocol(scale):
    ours = evaluate("anr", "Set5", scale, protocol="y")
    bicubic = evaluate("bicubic", "Set5", scale, protocol="y")
    assert ours["psnr"].mean() > bicubic["psnr"].mean() + 0.5
    assert (ours["psnr"] > bicubic["psnr"]).all()


def test_anr_shapes_dtype_determinism_and_gray():
    lr = torch.rand(2, 3, 9, 11)
    out = ex.anr(lr, 3)
    assert out.shape == (2, 3, 27, 33) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, ex.anr(lr, 3))
    gray = lr[:, :1]
    one = ex.anr(gray, 2)
    three = ex.anr(gray.expand(-1, 3, -1, -1).contiguous(), 2)
    assert one.shape == (2, 1, 18, 22) and torch.equal(three, one.expand(-1, 3, -1, -1))
    assert METHODS["anr"] is ex.anr and halo("anr", 2) == 6


def test_anr_refuses_bad_input_clearly():
    with pytest.raises(ValueError, match="0..255 data"):
        ex.anr(torch.full((1, 3, 8, 8), 200.0), 2)
    with pytest.raises(ValueError, match=r"ships for scales \(2, 3, 4\).*--scale 5"):
        ex.anr(torch.rand(1, 3, 8, 8), 5)
    with pytest.raises(ValueError, match="at least 3x3 pixels"):
        ex.anr(torch.rand(1, 3, 2, 8), 2)
    with pytest.raises(ValueError, match=r"\(B, 3, h, w\) or \(B, 1, h, w\)"):
        ex.anr(torch.rand(3, 8, 8), 2)
    with pytest.raises(ValueError, match=r"\(B, 1, h, w\) Y batch"):
        ex.anr_y(torch.rand(1, 3, 8, 8), 2)
    with pytest.raises(ValueError, match="needs 576"):
        ex.anr_y(torch.rand(1, 1, 8, 8), 4, model=ex.load_anr(2))


def test_load_refuses_a_missing_or_mislabelled_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m srlib.examples --scale 3"):
        ex.load_anr(3, str(tmp_path / "none.npz"))
    fake = tmp_path / "x2_as_x3.npz"
    with np.load(ex.WEIGHTS_DIR / "anr_x2.npz") as z:
        np.savez(fake, **{k: z[k] for k in z.files})
    with pytest.raises(ValueError, match="for x2, not x3"):
        ex.load_anr(3, str(fake))


# ------------------------------------------------------------------------ training
def test_training_smoke_on_tiny_images(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for i in range(4):
        # smooth random images with edges: blurred noise plus a step
        base = rng.random((48, 40, 3)).cumsum(0).cumsum(1)
        base = (base - base.min()) / np.ptp(base)
        base[:, 20:] = 1 - base[:, 20:]
        path = tmp_path / f"im{i}.png"
        Image.fromarray((base * 255).astype(np.uint8)).save(path)
        files.append(path)
    model = ex.train_anr(2, files=files, atoms=16, iterations=2)
    assert model["pca"].shape[0] == 4 * 36 and model["dict_lr"].shape[1] == 16
    assert model["dict_hr"].shape == (36, 16) and int(model["scale"]) == 2
    again = ex.train_anr(2, files=files, atoms=16, iterations=2)
    assert np.array_equal(model["dict_lr"], again["dict_lr"])
    np.savez(tmp_path / "m.npz", **model)
    loaded = ex.load_anr(2, str(tmp_path / "m.npz"))
    y = torch.rand(1, 1, 10, 12)
    assert ex.anr_y(y, 2, model=loaded).shape == (1, 1, 20, 24)
    with pytest.raises(ValueError, match="integer >= 2"):
        ex.train_anr(1, files=files)
    with pytest.raises(ValueError, match="no training images"):
        ex.train_anr(2, files=[])


def test_training_refuses_a_file_that_is_not_an_image(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png"):   # srlib.io.ImageReadError names it
        ex.train_anr(2, files=[bad])


def test_cli_errors_are_one_line_and_nothing_is_overwritten(tmp_path, capsys):
    from srlib import cli

    out = tmp_path / "anr_x3.npz"
    out.write_bytes(b"keep me")
    assert cli.run(ex.main, ["--scale", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"keep me"
    assert cli.run(ex.main, ["--scale", "3", "--out", str(tmp_path / "no" / "x.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        ex.main(["--scale", "0", "--out", str(out)])
    assert stop.value.code == 2 and "positive integer" in capsys.readouterr().err
