import nibabel as nib
import numpy as np
import pytest

from noise2stack.io.stacks import read_stack, write_stack


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip_keeps_data_affine_and_voxel_sizes(tmp_path, suffix):
    data = np.random.default_rng(0).random((12, 10, 6)).astype(np.float32)  # (i, j, k)
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = [-10, 20, 5]
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / f"in{suffix}"))
    stack = read_stack(tmp_path / f"in{suffix}")  # planes along k
    assert stack.shape == (6, 10, 12)
    np.testing.assert_array_equal(stack[2], data[:, :, 2].T)
    write_stack(tmp_path / f"out{suffix}", stack * 2, metadata={"seed": 1}, reference=tmp_path / f"in{suffix}")
    out = nib.load(str(tmp_path / f"out{suffix}"))
    np.testing.assert_array_equal(out.affine, nib.load(str(tmp_path / f"in{suffix}")).affine)  # float32 in the header
    np.testing.assert_allclose(out.affine, affine, rtol=1e-6)
    assert out.header.get_zooms() == pytest.approx((0.8, 0.9, 2.5))
    np.testing.assert_allclose(np.asanyarray(out.dataobj), data * 2)


def test_nifti_other_plane_axis(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "v.nii"))
    sagittal = read_stack(tmp_path / "v.nii", "YXZ")  # file order (k, j, i): planes along i
    assert sagittal.shape == (4, 6, 5)
    np.testing.assert_array_equal(sagittal[1], data[1].T)
