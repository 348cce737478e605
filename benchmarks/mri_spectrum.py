"""How much of each MRI volume's energy lies outside the frequencies k-space undersampling keeps.

Explains why the two-copy spectral combination (and all post-processed rows) score much higher
on the MNI152 template than in the paper (22.4 dB on IXI) or on the Haase volume: undersampling
with p(k) = exp(-lambda |k|) keeps mostly low frequencies, and a template averaged over 152 brains
has almost no energy above them. Same planes and padding as mri_experiment.py. Seconds to run.

    python benchmarks/mri_spectrum.py

Writes benchmarks/results/mri_spectrum.md.
"""

from __future__ import annotations

import numpy as np

from common import SHARED, markdown_table, write_result
from mri_experiment import pad256
from noise2stack.io.stacks import read_stack
from noise2stack.noise.kspace import radial_frequency


def energy_outside(volume: np.ndarray, fractions=(0.1, 0.2)) -> list[float]:
    """Fraction of spectral energy (DC excluded) outside the lowest ``fractions`` of frequencies by |k|."""
    power = (np.abs(np.fft.fft2(volume)) ** 2).sum(axis=0)
    power[0, 0] = 0.0
    order = np.argsort(radial_frequency(*volume.shape[1:]).ravel(), kind="stable")
    cumulative = np.cumsum(power.ravel()[order]) / power.sum()
    return [float(1 - cumulative[int(f * cumulative.size) - 1]) for f in fractions]


def main():
    mni = read_stack(SHARED / "mri_mni152_template_clean" / "mni152_2009a_t1_zyx.tif").astype(np.float32)
    z0 = (mni.shape[0] - 100) // 2
    haase = read_stack(SHARED / "mri_haase_tfl3d1" / "haase_mrt_tfl3d1_zyx.tif").astype(np.float32)
    rows = []
    for name, volume in (
        ("MNI152 2009a template (planes %d-%d)" % (z0, z0 + 99), pad256(mni[z0 : z0 + 100])),
        ("Haase T1 (planes 10-109)", pad256(haase[10:110])),
    ):
        rows.append([name, *(round(100 * v, 2) for v in energy_outside(volume))])
    body = (
        "Share of the non-DC spectral energy (%) above the lowest 10 % and 20 % of frequencies (by |k|). "
        "Undersampling keeping 10 % samples mostly those low frequencies; two copies together about 19 %.\n\n"
        + markdown_table(["volume", "energy above lowest 10 % (%)", "energy above lowest 20 % (%)"], rows)
    )
    print(body)
    write_result("mri_spectrum.md", "MRI: spectral energy outside the sampled frequencies", body)


if __name__ == "__main__":
    main()
