"""Tests of srlib.plot: the figure helpers draw the right pixels in the right places."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from srlib import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_to_array_layouts():
    t = torch.rand(3, 4, 5)
    assert plot.to_array(t).shape == (4, 5, 3)
    assert plot.to_array(torch.rand(1, 4, 5)).shape == (4, 5)
    u8 = torch.randint(0, 256, (3, 2, 2), dtype=torch.uint8)
    assert plot.to_array(u8).dtype == np.uint8
    assert plot.to_array(torch.full((3, 2, 2), 2.0)).max() == 1.0  # clamped for imshow
    assert plot.to_array(Image.new("L", (3, 2))).shape == (2, 3)


def test_true_scale_is_one_pixel_per_pixel():
    plot.use_style()
    hr, lr = torch.rand(3, 120, 80), torch.rand(3, 30, 20)
    fig = plot.true_scale([hr, lr], ["HR", "LR"], gap=10)
    dpi = fig.dpi
    widths = [ax.get_position().width * fig.get_figwidth() * dpi for ax in fig.axes]
    heights = [ax.get_position().height * fig.get_figheight() * dpi for ax in fig.axes]
    np.testing.assert_allclose(widths, [80, 20], atol=1e-6)
    np.testing.assert_allclose(heights, [120, 30], atol=1e-6)


def test_crop_and_bad_box():
    img = torch.arange(3 * 6 * 8, dtype=torch.float32).reshape(3, 6, 8) / 144
    np.testing.assert_array_equal(plot.crop(img, (2, 1, 3, 4)), plot.to_array(img)[1:5, 2:5])
    with pytest.raises(ValueError, match=r"does not fit in a 8x6 image"):
        plot.crop(img, (6, 0, 3, 3))


def test_compare_draws_crops_and_marks_the_box():
    a, b = torch.rand(3, 40, 50), torch.rand(3, 40, 50)
    fig = plot.compare([a, b], ["HR", "SR"], box=(5, 10, 16, 12), suptitle="t")
    whole, crop_a, crop_b = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["HR (whole)", "HR", "SR"]
    np.testing.assert_array_equal(crop_b.images[0].get_array(), plot.to_array(b)[10:22, 5:21])
    (rect,) = whole.patches
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (
        4.5, 9.5, 16, 12)
    with pytest.raises(ValueError, match="one size"):
        plot.compare([a, torch.rand(3, 10, 10)], ["x", "y"], box=(0, 0, 4, 4))
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plot.compare([a, b], ["x"], box=(0, 0, 4, 4))


def test_inset_shows_the_crop():
    img = torch.rand(3, 64, 64)
    fig, ax = plt.subplots()
    plot.show(img, ax, "whole")
    sub = plot.inset(ax, img, (8, 8, 16, 16))
    np.testing.assert_array_equal(sub.images[0].get_array(), plot.to_array(img)[8:24, 8:24])
    assert len(ax.patches) == 1


def test_grid_layout():
    fig = plot.grid([torch.rand(3, 8, 8)] * 5, [str(i) for i in range(5)], ncols=3)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:5]] == ["0", "1", "2", "3", "4"]
    assert not fig.axes[5].axison
