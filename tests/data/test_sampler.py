"""The Noise2Stack sampler feeds exactly the planes the paper says (000 §2.1)."""

import numpy as np
import pytest

from noise2stack.data.sampler import input_offsets, min_planes, plane_indices, plane_inputs
from noise2stack.errors import Noise2StackError

# Self mode, 7-plane stack, every plane: absent neighbours become the nearest existing plane
# other than i ("for the first plane we use two copies of the second plane").
EXPECTED_SELF = {
    2: [[1, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 5]],
    4: [[1, 1, 1, 2], [0, 0, 2, 3], [0, 1, 3, 4], [1, 2, 4, 5], [2, 3, 5, 6], [3, 4, 6, 6], [4, 5, 5, 5]],
    6: [
        [1, 1, 1, 1, 2, 3],
        [0, 0, 0, 2, 3, 4],
        [0, 0, 1, 3, 4, 5],
        [0, 1, 2, 4, 5, 6],
        [1, 2, 3, 5, 6, 6],
        [2, 3, 4, 6, 6, 6],
        [3, 4, 5, 5, 5, 5],
    ],
}


@pytest.mark.parametrize("neighbors", [2, 4, 6])
def test_self_mode_planes_for_every_plane(neighbors):
    got = [plane_indices(i, 7, neighbors, include_center=False) for i in range(7)]
    assert got == EXPECTED_SELF[neighbors]
    for i, planes in enumerate(got):
        assert i not in planes, "the target plane must never be an input in self mode"


@pytest.mark.parametrize("neighbors", [0, 2, 4, 6])
def test_copy_mode_is_centre_plus_self_neighbours(neighbors):
    k = neighbors // 2
    for i in range(7):
        got = plane_indices(i, 7, neighbors, include_center=True)
        expected = [i] if neighbors == 0 else EXPECTED_SELF[neighbors][i][:k] + [i] + EXPECTED_SELF[neighbors][i][k:]
        assert got == expected


def test_plane_inputs_returns_plane_values():
    stack = np.arange(7, dtype=np.float32)[:, None, None] * np.ones((7, 3, 4), np.float32)
    inp = plane_inputs(stack, 0, 4, include_center=True)
    assert inp.shape == (5, 3, 4)
    assert inp[:, 0, 0].tolist() == [1, 1, 0, 1, 2]
    inp = plane_inputs(stack, 6, 2, include_center=False)
    assert inp[:, 2, 3].tolist() == [5, 5]


def test_channel_order_is_by_offset():
    assert input_offsets(4, include_center=False) == [-2, -1, 1, 2]
    assert input_offsets(4, include_center=True) == [-2, -1, 0, 1, 2]
    assert input_offsets(0, include_center=True) == [0]


@pytest.mark.parametrize("neighbors,center", [(3, False), (-2, True), (0, False), (5, True)])
def test_bad_neighbor_counts_are_refused(neighbors, center):
    with pytest.raises(Noise2StackError):
        input_offsets(neighbors, center)


def test_min_planes():
    assert min_planes(2, False) == 3
    assert min_planes(4, False) == 5
    assert min_planes(0, True) == 1
