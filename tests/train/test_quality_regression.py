"""A fixed-step MRI training whose quality a change of the training loop must not lower (issue 25).

The MNI152 template's 24 middle planes, two independent k-space corruptions keeping 10 % (seeds 11
and 12, as the issue's experiment), Noise2Stack copy 1+4 with the paper's Table S2 net and MRI
recipe, 2 x 40 steps in float32 (the same arithmetic on every CPU), scored after the spectral
post-processing. Measured, one thread: with the per-epoch cosine (cb437ff, 1c8a0f3^ and today)
32.618-32.623 dB on Intel Xeon (AMX) and AMD EPYC; with the per-step cosine that 1c8a0f3 brought
(until 3c2c071) 32.006 dB, which fails the floor. Raw PSNR does not separate such changes
(25.88-26.04 dB), so only the post-processed figure is asserted. About 40 s on 2 cores.
"""

from __future__ import annotations

import numpy as np
import tifffile

from noise2stack import api
from noise2stack.noise.kspace import spectral_consistency, undersample

#: 32.62 dB measured (see the module docstring), less a margin for other CPUs' float32 kernels.
FLOOR_DB = 32.35


def mni_planes(shared_data, count: int = 24) -> np.ndarray:
    volume = tifffile.imread(shared_data / "mri_mni152_template_clean" / "mni152_2009a_t1_zyx.tif").astype(np.float32)
    z0 = (volume.shape[0] - count) // 2
    planes = volume[z0 : z0 + count]
    _, h, w = planes.shape
    clean = np.zeros((count, 256, 256), np.float32)  # the paper's 256 x 256 planes, zero-padded
    clean[:, (256 - h) // 2 : (256 - h) // 2 + h, (256 - w) // 2 : (256 - w) // 2 + w] = planes
    return clean


def test_copy_1_4_on_mri_keeps_its_quality_per_step(shared_data, tmp_path):
    clean = mni_planes(shared_data)
    a, side_a = undersample(clean, 0.1, seed=11)
    b, side_b = undersample(clean, 0.1, seed=12)
    recipe = dict(net="n2n-unet", residual=False, normalization="minmax", augmentation="translate")
    model = api.train(
        a,
        tmp_path / "model",
        targets=[b],
        method="n2stack",
        mode="copy",
        neighbors=4,
        precision="32",
        epochs=2,
        steps_per_epoch=40,
        patch=64,
        seed=0,
        progress=False,
        **recipe,
    )
    after = spectral_consistency(api.predict(model, a, progress=False), [side_a, side_b])
    psnr = float(np.mean([p["psnr"] for p in api.evaluate(after, clean)["per_plane"]]))
    assert psnr >= FLOOR_DB, f"copy 1+4 after post-processing {psnr:.3f} dB < {FLOOR_DB} dB"
