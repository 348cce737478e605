"""Every trainable method denoises real data: a short fixed-seed training raises PSNR above a floor
(issue 23, item 5). A shape check passes for a method that stopped denoising; these do not.

Data: the Arabidopsis confocal stack of ``../shared/data`` (its own noise is not shared between
planes, ``benchmarks/papers/results/reference_noise.md``), planes 40-63, the whole 112 x 109 plane,
with Poisson-Gaussian noise (peak 20, sigma 10: the noise of papers 000, 002 and 004's kind);
200 steps of batch 8 on 32 x 32 patches. NRRN (paper 003) gets ISBI EM re-sliced along X (24
planes 4 nm apart, 30 x 96), where neighbouring planes share signal as in its paper's 5 nm FIB-SEM,
with its Poisson noise (peak 8); 100 steps of batch 4 on 24 x 24. Float32 (the same arithmetic on
every CPU), seed 0. Each floor is the gain measured when the test was written (``MEASURED``, AMD
EPYC, torch 2.13.0) less max(1 dB, 20 %). Switching a key ingredient off (a scratch patch, issue 23)
turned these red: Noise2Void without its blind spot -0.23 dB, PN2V with a flat noise model -7.12,
pn2stack with one 2.53, Noise2Stack self with plane i among its inputs 0.00, NRRN trained against
its own plane j instead of the neighbours -0.01, Noise2SR without sub-sampling (input the 2 x 2 mean
of the patch, loss on every pixel) 4.36. Not caught, and not expected to be: NRRN without the
consensus term of eq. 3 (6.75 dB against 6.99; what is left is still a Noise2Noise loss, each branch
predicting a neighbour whose noise its inputs do not hold) and Noise2SR with a fixed sub-sampling
phase and the loss on every pixel (5.82 against 6.48; the copied quarter of the pixels is never
asked for at inference, which sees the 2 x 2 mean). About 120 s for the file on 2 cores (AMD EPYC).
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from noise2stack import api
from noise2stack.methods.n2v import N2V2
from noise2stack.noise import add_noise

#: PSNR gain over the noisy input (dB) measured at the steps below, and the floor each test asserts.
MEASURED = {
    "n2stack self": 8.726,
    "n2stack copy": 10.019,
    "n2n": 7.943,
    "n2c": 8.429,
    "n2v": 6.216,
    "n2v2": 5.885,
    "pn2v": 6.254,
    "pn2stack": 9.017,
    "n2sr": 6.477,
    "nrrn": 6.986,
}
FLOORS = {name: gain - max(1.0, 0.2 * gain) for name, gain in MEASURED.items()}
#: NRRN's prediction of the noise-free stack against it (dB): measured 20.749 here, less 1 dB. Not "nearly
#: unchanged": a denoiser trained at 8 photons smooths clean data too (Noise2Void 18.20 dB in
#: benchmarks/papers/results/nrrn_attention.md); the floor catches an NRRN that starts removing more.
PASS_THROUGH_DB = 19.75

FLUO_OPTIONS = dict(epochs=4, steps_per_epoch=50, patch=32, batch=8, precision="32", seed=0, progress=False)
CASES = {
    "n2stack self": dict(method="n2stack", mode="self", neighbors=2),
    "n2stack copy": dict(method="n2stack", mode="copy", neighbors=2, targets="copy"),
    "n2n": dict(method="n2n", targets="copy"),
    "n2c": dict(method="n2c", targets="clean"),
    "n2v": dict(method="n2v"),
    "n2v2": dict(N2V2),
    "pn2v": dict(method="pn2v", noise_model="estimated"),
    "pn2stack": dict(method="pn2stack", neighbors=2, noise_model="estimated"),
    "n2sr": dict(method="n2sr"),
}


def fluorescence_stacks(shared_data):
    """(clean, noisy, second noisy copy) of the Arabidopsis crop, float32 ZYX."""
    path = shared_data / "fluo_arabidopsis_embryo_confocal" / "arabidopsis_embryo_zyx.tif"
    clean = tifffile.imread(path)[40:64].astype(np.float32)
    noise = dict(peak=20, sigma=10)
    return (
        clean,
        add_noise(clean, "poisson-gaussian", seed=1, **noise),
        add_noise(clean, "poisson-gaussian", seed=2, **noise),
    )


@pytest.fixture(scope="module")
def fluorescence(shared_data):
    return fluorescence_stacks(shared_data)


def gain(denoised: np.ndarray, noisy: np.ndarray, clean: np.ndarray) -> float:
    return api.evaluate(denoised, clean)["psnr"] - api.evaluate(noisy, clean)["psnr"]


@pytest.mark.parametrize("name", list(CASES))
def test_each_method_raises_psnr_on_real_data(name, fluorescence, tmp_path):
    clean, noisy, copy = fluorescence
    options = dict(CASES[name])
    targets = {"copy": [copy], "clean": [clean], None: None}[options.pop("targets", None)]
    if options.get("noise_model") == "estimated":  # the path of a user without calibration data
        options["noise_model"] = str(tmp_path / "nm.npz")
        api.noise_model(options["noise_model"], estimate_from=noisy)
    model = api.train(noisy, tmp_path / "model", targets=targets, **options, **FLUO_OPTIONS)
    measured = gain(api.predict(model, noisy, progress=False), noisy, clean)
    print(f"{name}: {measured:.3f} dB")
    assert measured >= FLOORS[name], f"{name} gained {measured:.2f} dB < floor {FLOORS[name]:.2f} dB"


def test_nrrn_raises_psnr_where_neighbouring_planes_share_signal(shared_data, tmp_path):
    volume = tifffile.imread(shared_data / "em_isbi2012_sstem" / "train_volume_zyx.tif").astype(np.float32)
    clean = np.ascontiguousarray(np.moveaxis(volume[:, 128:224, 200:224], 2, 0))  # 24 X-planes of 30 x 96 (Z x Y)
    noisy = add_noise(clean, "poisson", peak=8, seed=1)
    options = dict(method="nrrn", batch=4, epochs=2, steps_per_epoch=50, patch=24, precision="32", seed=0)
    model = api.train(noisy, tmp_path / "model", progress=False, **options)
    measured = gain(api.predict(model, noisy, progress=False), noisy, clean)
    print(f"nrrn: {measured:.3f} dB")
    assert measured >= FLOORS["nrrn"], f"nrrn gained {measured:.2f} dB < floor {FLOORS['nrrn']:.2f} dB"
    # issue 23: a noise-free stack passes through nearly unchanged (the units subtract noise, not signal)
    passed = api.evaluate(api.predict(model, clean, progress=False), clean)["psnr"]
    print(f"nrrn on the clean stack: {passed:.3f} dB")
    assert passed >= PASS_THROUGH_DB, f"nrrn changed a noise-free stack: {passed:.2f} dB < {PASS_THROUGH_DB} dB"
