"""Patches streamed from a store equal patches from the loaded stack; workers > 0 give the same batches."""

from __future__ import annotations

import functools

import numpy as np
import zarr

from noise2stack import api
from noise2stack.data.normalize import Normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.data.streaming import NormalizedStack, StackView, fit_streaming_normalizer
from noise2stack.io.zarr_io import inspect_volume, open_array


def test_streamed_patches_equal_in_memory_patches(tmp_path):
    tzyx = (np.random.default_rng(0).random((2, 6, 40, 33)) * 1000).astype(np.uint16)
    zarr.create_array(str(tmp_path / "v.zarr"), shape=tzyx.shape, chunks=(1, 2, 16, 16), dtype="uint16",
                      dimension_names=["t", "z", "y", "x"])[:] = tzyx
    spec = inspect_volume(tmp_path / "v.zarr")
    norm = Normalizer("percentile", 100.0, 900.0)
    views = [StackView(functools.partial(open_array, spec), "TZYX", "Z", {"T": t}, spec.shape) for t in range(2)]
    planes = [(s, i) for s in range(2) for i in range(6)]
    streamed = PatchSource([NormalizedStack(v, norm, cache_bytes=3 * 40 * 33 * 4) for v in views],
                           [NormalizedStack(v, norm) for v in views], planes, 4, False, 16)
    loaded = [norm.normalize(tzyx[t]) for t in range(2)]
    memory = PatchSource(loaded, loaded, planes, 4, False, 16)
    for step in range(20):
        a, b = streamed.sample(np.random.default_rng(step)), memory.sample(np.random.default_rng(step))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert len(streamed.inputs[0]._cache) + len(streamed.inputs[1]._cache) <= 6  # 3 planes per view at most
    stats = fit_streaming_normalizer(views, "minmax", (3, 99.8), per_stack=6)
    assert (stats.low_value, stats.high_value) == (float(tzyx.min()), float(tzyx.max()))  # all 6 planes sampled


def test_training_streams_from_zarr_with_two_workers(tmp_path, make_stack):
    zyx = make_stack(12, 32, 32)
    zarr.create_array(str(tmp_path / "v.zarr"), shape=zyx.shape, chunks=(4, 16, 16), dtype="float32")[:] = zyx
    kwargs = dict(neighbors=2, patch=16, batch=2, epochs=1, steps_per_epoch=3, val_patches=2, progress=False)
    with_workers = api.train(str(tmp_path / "v.zarr"), tmp_path / "m1", num_workers=2, **kwargs)
    without = api.train(str(tmp_path / "v.zarr"), tmp_path / "m0", num_workers=0, **kwargs)
    for key, value in without.net.state_dict().items():
        assert np.array_equal(value.numpy(), with_workers.net.state_dict()[key].numpy())
    assert with_workers.normalizer.high_value > with_workers.normalizer.low_value


def test_a_cache_miss_reads_the_whole_stored_chunk_once(tmp_path):
    """A store chunked 4 planes deep: asking for plane 5 reads planes 4-7 in one go; 4, 6 and 7 then
    come from the cache, with the same values as the loaded stack."""
    zyx = (np.random.default_rng(1).random((10, 12, 9)) * 100).astype(np.float32)
    zarr.create_array(str(tmp_path / "v.zarr"), shape=zyx.shape, chunks=(4, 12, 9), dtype="float32",
                      dimension_names=["z", "y", "x"])[:] = zyx
    spec = inspect_volume(tmp_path / "v.zarr")
    view = StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape)
    reads = []
    original = view.read_planes
    view.read_planes = lambda start, stop: reads.append((start, stop)) or original(start, stop)
    norm = Normalizer("percentile", 0.0, 100.0)
    stack = NormalizedStack(view, norm, cache_bytes=64 * 12 * 9 * 4)
    for p in (5, 4, 6, 7):
        np.testing.assert_array_equal(stack[([p], slice(2, 9), slice(None))][0], norm.normalize(zyx)[p, 2:9])
    assert reads == [(4, 8)]
    stack[([9], slice(None), slice(None))]
    assert reads == [(4, 8), (8, 10)]  # the last chunk is short
