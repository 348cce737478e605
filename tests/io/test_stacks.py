import numpy as np
import pytest
import tifffile

from noise2stack.errors import Noise2StackError
from noise2stack.io import atomic_path, read_stack, to_zyx, write_stack
from noise2stack.io.stacks import from_zyx


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
def test_tiff_and_npy_round_trip_any_real_dtype(tmp_path, dtype):
    stack = (np.arange(2 * 3 * 4).reshape(2, 3, 4) * 3).astype(dtype)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    np.save(tmp_path / "s.npy", stack)
    for name in ("s.tif", "s.npy"):
        got = read_stack(tmp_path / name)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, stack)


def test_axes_reorder_to_zyx_and_back():
    yxz = np.random.default_rng(0).random((5, 6, 3))
    zyx = to_zyx(yxz, "YXZ")
    assert zyx.shape == (3, 5, 6)
    np.testing.assert_array_equal(zyx[1], yxz[:, :, 1])
    np.testing.assert_array_equal(from_zyx(zyx, "YXZ"), yxz)
    assert to_zyx(yxz[:, :, 0], "YX").shape == (1, 5, 6)
    assert to_zyx(yxz, "YXT").shape == (3, 5, 6)


@pytest.mark.parametrize("axes", ["ZYXC", "ZZY", "YX", "ZYQ", ""])
def test_bad_axes(axes):
    with pytest.raises(Noise2StackError):
        to_zyx(np.zeros((2, 3, 4)), axes)


@pytest.mark.parametrize(
    "array,match",
    [(np.zeros((0, 4, 4)), "empty"), (np.zeros((2, 2, 2), bool), "dtype"), (np.zeros((2, 2, 2), complex), "dtype")],
)
def test_bad_arrays(tmp_path, array, match):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(Noise2StackError, match=match):
        read_stack(tmp_path / "a.npy")


def test_object_npy_is_not_unpickled(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(Noise2StackError, match="objects"):
        read_stack(tmp_path / "o.npy", "YX")


def test_write_stack_is_atomic_and_keeps_axes(tmp_path):
    stack = np.random.default_rng(1).random((3, 4, 5)).astype(np.float32)
    write_stack(tmp_path / "o.tif", stack, "YXZ", metadata={"seed": 3})
    out = tifffile.imread(tmp_path / "o.tif")
    np.testing.assert_array_equal(out, np.moveaxis(stack, 0, -1))
    assert [p.name for p in tmp_path.iterdir()] == ["o.tif"]


def test_failed_write_leaves_nothing(tmp_path):
    (tmp_path / "keep.tif").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "keep.tif") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert (tmp_path / "keep.tif").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tif"]


def test_stored_shape_reads_the_header_only_and_matches_read_array(tmp_path):
    import tifffile

    from noise2stack.io.stacks import read_array, stored_shape, write_stack

    data = np.arange(3 * 5 * 7, dtype=np.uint16).reshape(3, 5, 7)
    np.save(tmp_path / "a.npy", data)
    tifffile.imwrite(tmp_path / "a.tif", data)
    write_stack(tmp_path / "a.nii.gz", data.astype(np.float32))
    for name in ("a.npy", "a.tif", "a.nii.gz"):
        shape, dtype = stored_shape(tmp_path / name)
        assert shape == read_array(tmp_path / name).shape == (3, 5, 7), name
        assert dtype == read_array(tmp_path / name).dtype, name
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    assert stored_shape(tmp_path / "bad.tif") is None


@pytest.mark.parametrize("axes", ["CZYX", "ZCYX", "YXCZ", "CYX", "TCYX"])
def test_channel_axes_go_to_zcyx_and_back(axes):
    sizes = {"Z": 3, "T": 3, "C": 2, "Y": 5, "X": 7}
    grids = np.meshgrid(*[np.arange(sizes[a]) for a in axes], indexing="ij")
    weight = {"Z": 1000, "T": 1000, "C": 100, "Y": 10, "X": 1}
    array = sum(g * weight[a] for g, a in zip(grids, axes))  # each value spells its (z, c, y, x)
    zcyx = to_zyx(array, axes)
    z, c, y, x = np.meshgrid(*[np.arange(n) for n in zcyx.shape], indexing="ij")
    assert zcyx.shape[1:] == (2, 5, 7)
    np.testing.assert_array_equal(zcyx, z * 1000 + c * 100 + y * 10 + x)
    np.testing.assert_array_equal(from_zyx(zcyx, axes), array)
