"""Noise2Void masking: replaced pixels come from their window (here 5x5; default 11x11), not themselves, stratified."""

import numpy as np
import pytest
import torch

from noise2stack.data.blindspot import grid_shape, mask_patch, stratified_pixels
from noise2stack.methods import get_method


def test_masked_pixels_take_a_value_from_their_5x5_window_other_than_themselves():
    patch = np.arange(32 * 32, dtype=np.float32).reshape(1, 32, 32)  # every value names its pixel
    for seed in range(20):
        masked, mask = mask_patch(patch, 0.01, np.random.default_rng(seed), window=5)
        ys, xs = np.nonzero(mask[0])
        assert len(ys) == round(0.01 * 32 * 32)
        for y, x in zip(ys, xs):
            src_y, src_x = divmod(int(masked[0, y, x]), 32)
            assert (src_y, src_x) != (y, x)
            assert max(abs(src_y - y), abs(src_x - x)) <= 2
        unmasked = mask[0] == 0
        np.testing.assert_array_equal(masked[0][unmasked], patch[0][unmasked])


def test_every_window_offset_is_used():
    patch = np.arange(16 * 16, dtype=np.float32).reshape(1, 16, 16)
    seen = set()
    for seed in range(300):
        masked, mask = mask_patch(patch, 0.004, np.random.default_rng(seed), window=5)  # one pixel
        (y,), (x,) = np.nonzero(mask[0])
        sy, sx = divmod(int(masked[0, y, x]), 16)
        seen.add((sy - y, sx - x))
    assert len(seen) == 24 and (0, 0) not in seen


def test_median_replacement_is_the_window_median_without_the_centre():
    patch = np.random.default_rng(0).random((1, 16, 16)).astype(np.float32)
    masked, mask = mask_patch(patch, 0.02, np.random.default_rng(1), replacement="median", window=5)
    for y, x in zip(*np.nonzero(mask[0])):
        window = [
            patch[0, y + dy, x + dx]
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if (dy, dx) != (0, 0) and 0 <= y + dy < 16 and 0 <= x + dx < 16
        ]
        assert masked[0, y, x] == np.float32(np.median(window))


@pytest.mark.parametrize("height,width,fraction", [(64, 64, 0.008), (32, 32, 0.01), (48, 20, 0.05), (64, 64, 0.002)])
def test_pixels_are_stratified_one_per_cell(height, width, fraction):
    ys, xs = stratified_pixels(height, width, fraction, np.random.default_rng(0))
    assert len(ys) == max(1, round(fraction * height * width))
    rows, cols = grid_shape(height, width, len(ys))
    row_of = lambda y: max(r for r in range(rows) if r * height // rows <= y)  # noqa: E731
    col_of = lambda x: max(c for c in range(cols) if c * width // cols <= x)  # noqa: E731
    cells = {(row_of(y), col_of(x)) for y, x in zip(ys, xs)}
    assert len(cells) == len(ys)


def test_the_loss_sees_only_masked_pixels():
    method = get_method("n2v")
    target = torch.zeros(1, 1, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, 1, 2] = 1
    prediction = torch.full((1, 1, 4, 4), 5.0)
    prediction[0, 0, 1, 2] = 3.0
    assert method.loss(prediction, target, mask).item() == 9.0  # only (1, 2) counts: 3^2
    prediction[0, 0, 1, 2] = 0.0
    assert method.loss(prediction, target, mask).item() == 0.0


@pytest.mark.parametrize("window", [5, 11])
def test_replacements_come_from_the_window_and_fill_it(window):
    """Each replaced pixel takes the value of another pixel at most window // 2 away in Y and X, and
    over many patches every offset of the window but the centre occurs."""
    y, x = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    patch = (y * 1000 + x).astype(np.float32)[None]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        masked, mask = mask_patch(patch, 0.01, rng, window=window)
        ys, xs = np.nonzero(mask[0])
        source = masked[0, ys, xs].astype(int)
        dy, dx = source // 1000 - ys, source % 1000 - xs
        assert np.all((np.abs(dy) <= window // 2) & (np.abs(dx) <= window // 2)) and not np.any((dy == 0) & (dx == 0))
        seen.update(zip(dy.tolist(), dx.tolist()))
    assert len(seen) == window * window - 1


@pytest.mark.parametrize("struct", [(0, 2), (3, 0), (1, 1)])
def test_struct_masks_strike_their_lines_and_nothing_else(struct):
    rng = np.random.default_rng(4)
    patch = rng.random((1, 40, 48)).astype(np.float32) + 10.0  # values in [10, 11)
    masked, mask = mask_patch(patch, 0.01, np.random.default_rng(5), struct=struct)
    centres = np.argwhere(mask[0] > 0)
    line = np.zeros((40, 48), bool)
    reach_y, reach_x = struct
    for y, x in centres:
        line[max(y - reach_y, 0) : y + reach_y + 1, x] = True
        line[y, max(x - reach_x, 0) : x + reach_x + 1] = True
    line[mask[0] > 0] = False
    changed = masked[0] != patch[0]
    assert not np.any(changed & ~line & (mask[0] == 0))  # only the centres and their lines move
    assert np.all(changed[line])  # every line pixel gets a fresh value ...
    assert masked[0][line].min() >= patch.min() and masked[0][line].max() <= patch.max()  # ... in the patch's range
    # a centre's replacement never copies the original value of a pixel on its line
    for y, x in centres:
        ys, xs = np.nonzero(line[max(y - reach_y, 0) : y + reach_y + 1, max(x - reach_x, 0) : x + reach_x + 1])
        originals = patch[0, max(y - reach_y, 0) + ys, max(x - reach_x, 0) + xs]
        assert masked[0, y, x] not in originals


def test_without_a_struct_the_draws_are_those_of_plain_noise2void():
    patch = np.random.default_rng(6).random((1, 32, 32)).astype(np.float32)
    plain = mask_patch(patch, 0.05, np.random.default_rng(7))
    pixel = mask_patch(patch, 0.05, np.random.default_rng(7), struct=(0, 0))
    np.testing.assert_array_equal(plain[0], pixel[0])
