"""srlib.degradations (chapter 8): shapes, dtypes, what each one does, reproducibility."""

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.degradations import DEGRADATIONS, bicubic, gaussian, jpeg, noise, pil, random_degradation
from srlib.resize import imresize


def _hr(h=48, w=42, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, -(-h // 6), -(-w // 6), generator=g)
    big = (imresize(base, 6).clamp(0, 1) * 255).round().to(torch.uint8)
    return big[..., :h, :w].contiguous()


@pytest.mark.parametrize("name", list(DEGRADATIONS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_every_degradation_shrinks_by_the_scale(name, scale):
    lr = DEGRADATIONS[name](_hr(50, 43), scale)        # cropped to a multiple first
    assert lr.dtype == torch.uint8 and lr.shape == (1, 3, 50 // scale, 43 // scale)


def test_bicubic_is_matlab_imresize():
    hr = _hr()
    assert torch.equal(bicubic(hr, 3), imresize(hr, 1 / 3))


def test_gaussian_of_a_flat_image_is_flat_and_decimates_at_the_centre():
    flat = torch.full((1, 3, 30, 30), 77, dtype=torch.uint8)
    assert (gaussian(flat, 3) == 77).all()
    dots = torch.zeros(1, 3, 30, 30, dtype=torch.uint8)
    dots[..., 1::3, 1::3] = 255                         # the centre of every 3x3 block
    assert (gaussian(dots, 3, sigma=0.05) == 255).all()  # almost no blur: centres kept
    with pytest.raises(ValueError, match="sigma"):
        gaussian(flat, 3, sigma=0)


def test_pil_matches_pillow():
    hr = _hr()
    im = Image.fromarray(hr[0].permute(1, 2, 0).numpy())
    ref = torch.from_numpy(np.asarray(im.resize((14, 16), Image.BILINEAR)).copy())
    assert torch.equal(pil(hr, 3)[0].permute(1, 2, 0), ref)


def test_jpeg_and_noise_change_the_bicubic_image_by_their_strength():
    hr = _hr()
    ref = bicubic(hr, 2).float()
    d_jpeg = [(jpeg(hr, 2, q).float() - ref).abs().mean() for q in (95, 20)]
    assert d_jpeg[0] < d_jpeg[1]
    n = noise(hr, 2, sigma=5).float() - ref
    assert 3.5 < n.std() < 6 and torch.equal(noise(hr, 2), noise(hr, 2))  # seeded
    with pytest.raises(ValueError, match="quality"):
        jpeg(hr, 2, 0)


def test_random_degradation_is_random_and_reproducible():
    hr = _hr()
    outs = [random_degradation(hr, 2, torch.Generator().manual_seed(s)) for s in range(6)]
    assert len({o.numpy().tobytes() for o in outs}) > 1
    again = random_degradation(hr, 2, torch.Generator().manual_seed(3))
    assert torch.equal(again, outs[3])


def test_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        bicubic(torch.rand(1, 3, 8, 8), 2)


def test_random_degradation_options():
    hr = _hr()
    g = torch.Generator().manual_seed(1)
    plain = [random_degradation(hr, 2, g, kernels=("bicubic",), p_noise=0, p_jpeg=0)
             for _ in range(3)]
    assert all(torch.equal(p, bicubic(hr, 2)) for p in plain)
    noisy = random_degradation(hr, 2, g, kernels=("bicubic",), p_noise=1, p_jpeg=0)
    assert not torch.equal(noisy, bicubic(hr, 2))
    with pytest.raises(ValueError, match="kernels"):
        random_degradation(hr, 2, kernels=("box",))
