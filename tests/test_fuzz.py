"""Fuzzing: random arrays, sizes and configs. The only allowed outcomes are a correct result or
the project's own one-line error (Noise2StackError). ``N2S_FUZZ_EXAMPLES`` sets the budget per
target (default 25; python -m benchmarks.quality.fuzz runs a larger one)."""

import os
import warnings

import numpy as np
import tifffile
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from noise2stack.config import TrainConfig, flat_names, make_config
from noise2stack.data.sampler import plane_indices, plane_inputs
from noise2stack.errors import Noise2StackError
from noise2stack.io.stacks import read_stack, to_zyx
from noise2stack.metrics import evaluate_stack
from noise2stack.nets import build_net
from noise2stack.predict import predict_stack

BUDGET = settings(
    max_examples=int(os.environ.get("N2S_FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DTYPES = ["uint8", "uint16", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool", "complex64"]


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple))
    return draw(hnp.arrays(dtype, shape, elements=None if dtype.kind in "fc" else None))


@BUDGET
@given(
    array=arrays(),
    axes=st.sampled_from(["ZYX", "YX", "YXZ", "TYX", "ZYXC", "ZZX", ""]),
    suffix=st.sampled_from([".npy", ".tif"]),
)
def test_readers(tmp_path, array, axes, suffix):
    path = tmp_path / f"a{suffix}"
    try:
        if suffix == ".npy":
            np.save(path, array)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tifffile.imwrite(path, array)
    except Exception:
        assume(False)  # the writer, not our reader, cannot store this
    try:
        out = read_stack(path, axes)
    except Noise2StackError:
        return
    stored = np.load(path) if suffix == ".npy" else tifffile.imread(path)
    assert out.dtype.kind in "uif" and out.size > 0 and out.ndim == (4 if "C" in axes else 3)  # ZYX, or ZCYX
    np.testing.assert_array_equal(out, to_zyx(stored, axes))
    if out.dtype.kind == "f":
        assert np.isfinite(out).all()


@BUDGET
@given(n_planes=st.integers(1, 12), data=st.data(), neighbors=st.integers(-2, 9), center=st.booleans())
def test_sampler(n_planes, data, neighbors, center):
    i = data.draw(st.integers(0, n_planes - 1))
    try:
        planes = plane_indices(i, n_planes, neighbors, center)
    except Noise2StackError:
        assert neighbors % 2 or neighbors < 0 or (neighbors == 0 and not center) or n_planes < 2
        return
    k = neighbors // 2
    assert len(planes) == neighbors + center
    assert all(0 <= p < n_planes for p in planes)
    others = planes[:k] + planes[k + center :]
    assert i not in others
    if center:
        assert planes[k] == i
    for offset, p in zip([o for o in range(-k, k + 1) if o or center], planes):
        if 0 <= i + offset < n_planes and offset:
            assert p == i + offset  # present neighbours are taken as they are


_NET = None


def _net():
    global _NET
    if _NET is None:
        torch.manual_seed(0)
        _NET = build_net("csbdeep-unet", 3, [1]).eval()
    return _NET


@BUDGET
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 70), st.integers(1, 70)),
    tile=st.integers(-2, 80),
    overlap=st.one_of(st.none(), st.integers(-2, 48)),
    batch=st.integers(0, 4),
)
def test_tiler(shape, tile, overlap, batch):
    stack = np.random.default_rng(0).random(shape, dtype=np.float32)
    try:
        out = predict_stack(_net(), stack, 2, True, tile=tile, overlap=overlap, batch=batch)
    except Noise2StackError:
        return
    assert out.shape == shape and np.isfinite(out).all()
    # every tile size and overlap gives the network's bare pass on the whole plane
    whole = _bare(_net(), stack, 2, True)
    assert np.abs(out - whole).max() <= 1e-5 * max(np.abs(whole).max(), 1e-6)


def _bare(net, stack, neighbors, include_center):
    """Each plane through ``net`` in one piece, padded by hand to the pooling grid as the network pads
    (reflection, or edge replication for planes too small to reflect), and cropped back; no tiler."""
    align, (height, width) = 2**net.depth, stack.shape[-2:]
    pad_y, pad_x = -height % align, -width % align
    mode = "reflect" if pad_y < height and pad_x < width else "edge"
    with torch.inference_mode():
        planes = [
            net(
                torch.from_numpy(
                    np.pad(
                        plane_inputs(stack, z, neighbors, include_center), ((0, 0), (0, pad_y), (0, pad_x)), mode=mode
                    )
                )[None]
            )
            for z in range(stack.shape[0])
        ]
    return np.stack([p[0, 0, :height, :width].numpy() for p in planes])


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)


@BUDGET
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(1, 20)),
    data=st.data(),
    normalize=st.sampled_from(["none", "care", "bogus"]),
)
def test_metrics(shape, data, normalize):
    ref = data.draw(hnp.arrays(np.float32, shape, elements=finite))
    pred = data.draw(hnp.arrays(np.float32, shape, elements=finite))
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = evaluate_stack(pred, ref, normalize)
    except Noise2StackError:
        return
    for p in result["per_plane"]:
        assert not np.isnan(p["psnr"]) and p["psnr"] > -1000
        assert -1.0 - 1e-6 <= p["ssim"] <= 1.0 + 1e-6
        assert p["nrmse"] >= 0


config_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 200), max_size=3),
)


@BUDGET
@given(
    st.dictionaries(
        st.sampled_from(sorted(flat_names()) + list(TrainConfig.model_fields) + ["bogus", "Patch", ""]),
        config_values,
        max_size=6,
    )
)
def test_config_loader(values):
    try:
        cfg = make_config(**values)
    except Noise2StackError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(cfg, TrainConfig)
    assert cfg.algorithm.neighbors % 2 == 0 and cfg.data.patch >= 8 and cfg.data.batch >= 1
