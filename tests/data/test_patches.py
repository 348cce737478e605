import numpy as np
import pytest

from noise2stack.data.patches import PatchSource, augment_dihedral
from noise2stack.errors import Noise2StackError


def test_patch_input_and_target_come_from_the_same_window_and_planes():
    # value encodes (z, y, x) so the patch says where it came from
    z, y, x = np.meshgrid(np.arange(5), np.arange(32), np.arange(32), indexing="ij")
    stack = (z * 10000 + y * 100 + x).astype(np.float32)
    source = PatchSource(
        [stack], [stack], [(0, 0), (0, 2)], neighbors=2, include_center=False, patch=8, augmentation="none"
    )
    rng = np.random.default_rng(3)
    for _ in range(20):
        inp, tgt = source.sample(rng)
        i = int(tgt[0, 0, 0] // 10000)
        y0, x0 = int(tgt[0, 0, 0] % 10000 // 100), int(tgt[0, 0, 0] % 100)
        expected_planes = {0: [1, 1], 2: [1, 3]}[i]
        assert (inp[:, 0, 0] // 10000).tolist() == expected_planes
        np.testing.assert_array_equal(inp % 10000, np.broadcast_to(tgt % 10000, inp.shape))
        assert tgt.shape == (1, 8, 8) and y0 + 8 <= 32 and x0 + 8 <= 32


def test_dihedral_applies_the_same_transform_to_input_and_target():
    rng = np.random.default_rng(0)
    a = rng.random((2, 6, 6))
    seen = set()
    for seed in range(40):
        t_a, t_b = augment_dihedral([a, a[:1].copy()], np.random.default_rng(seed))
        np.testing.assert_array_equal(t_a[:1], t_b)
        seen.add(t_a.tobytes())
    assert len(seen) == 8


def test_patch_larger_than_plane_is_refused():
    stack = np.zeros((3, 16, 20), np.float32)
    with pytest.raises(Noise2StackError, match="`patch` 32"):
        PatchSource([stack], [stack], [(0, 1)], 2, False, patch=32)


def test_joint_channel_patches_are_neighbour_major_and_target_every_channel():
    """(Z, C, Y, X) stacks: input channel n*C + c is neighbour n of image channel c; target (C, P, P)."""
    z, c, y, x = np.meshgrid(np.arange(6), np.arange(3), np.arange(20), np.arange(20), indexing="ij")
    stack = (z * 100000 + c * 10000 + y * 100 + x).astype(np.float32)
    source = PatchSource(
        [stack], [stack], [(0, 0), (0, 4)], neighbors=2, include_center=True, patch=8, augmentation="dihedral"
    )
    rng = np.random.default_rng(5)
    for _ in range(20):
        inp, tgt = source.sample(rng)
        assert inp.shape == (9, 8, 8) and tgt.shape == (3, 8, 8)
        i = int(tgt[0, 0, 0] // 100000)
        planes = {0: [1, 0, 1], 4: [3, 4, 5]}[i]
        assert (inp[:, 0, 0] // 100000).astype(int).tolist() == [p for p in planes for _ in range(3)]
        assert (inp[:, 0, 0] % 100000 // 10000).astype(int).tolist() == [0, 1, 2] * 3
        assert (tgt[:, 0, 0] % 100000 // 10000).astype(int).tolist() == [0, 1, 2]
        np.testing.assert_array_equal(inp % 10000, np.broadcast_to(tgt[:1] % 10000, inp.shape))  # one window
