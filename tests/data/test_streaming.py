"""Patches streamed from a store equal patches from the loaded stack; workers > 0 give the same batches."""

from __future__ import annotations

import functools

import numpy as np
import zarr

from noise2stack import api
from noise2stack.data.normalize import Normalizer
from noise2stack.data.patches import PatchSource
from noise2stack.data.streaming import LocalPlanes, NormalizedStack, PlaneCache, StackView, fit_streaming_normalizer
from noise2stack.io.zarr_io import inspect_volume, open_array


def test_streamed_patches_equal_in_memory_patches(tmp_path):
    tzyx = (np.random.default_rng(0).random((2, 6, 40, 33)) * 1000).astype(np.uint16)
    zarr.create_array(
        str(tmp_path / "v.zarr"),
        shape=tzyx.shape,
        chunks=(1, 2, 16, 16),
        dtype="uint16",
        dimension_names=["t", "z", "y", "x"],
    )[:] = tzyx
    spec = inspect_volume(tmp_path / "v.zarr")
    norm = Normalizer("percentile", 100.0, 900.0)
    views = [StackView(functools.partial(open_array, spec), "TZYX", "Z", {"T": t}, spec.shape) for t in range(2)]
    planes = [(s, i) for s in range(2) for i in range(6)]
    cache = PlaneCache(6 * 40 * 33 * 4)  # 6 planes for both views together
    streamed = PatchSource(
        [NormalizedStack(v, norm, cache) for v in views],
        [NormalizedStack(v, norm) for v in views],
        planes,
        4,
        False,
        16,
    )
    loaded = [norm.normalize(tzyx[t]) for t in range(2)]
    memory = PatchSource(loaded, loaded, planes, 4, False, 16)
    for step in range(20):
        a, b = streamed.sample(np.random.default_rng(step)), memory.sample(np.random.default_rng(step))
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert 0 < cache.nbytes <= 6 * 40 * 33 * 4
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
    zarr.create_array(
        str(tmp_path / "v.zarr"), shape=zyx.shape, chunks=(4, 12, 9), dtype="float32", dimension_names=["z", "y", "x"]
    )[:] = zyx
    spec = inspect_volume(tmp_path / "v.zarr")
    view = StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape)
    reads = []
    original = view.read_planes
    view.read_planes = lambda start, stop: reads.append((start, stop)) or original(start, stop)
    norm = Normalizer("percentile", 0.0, 100.0)
    stack = NormalizedStack(view, norm, PlaneCache(64 * 12 * 9 * 4))
    for p in (5, 4, 6, 7):
        np.testing.assert_array_equal(stack[([p], slice(2, 9), slice(None))][0], norm.normalize(zyx)[p, 2:9])
    assert reads == [(4, 8)]
    stack[([9], slice(None), slice(None))]
    assert reads == [(4, 8), (8, 10)]  # the last chunk is short


def _views(tmp_path, depth=96, side=64, chunk=8):
    zyx = (np.random.default_rng(2).random((depth, side, side)) * 100).astype(np.float32)
    zarr.create_array(
        str(tmp_path / "v.zarr"),
        shape=zyx.shape,
        chunks=(chunk, side, side),
        dtype="float32",
        dimension_names=["z", "y", "x"],
    )[:] = zyx
    spec = inspect_volume(tmp_path / "v.zarr")
    return zyx, StackView(functools.partial(open_array, spec), "ZYX", "Z", {}, spec.shape)


def test_local_planes_are_one_block_of_whole_chunks_and_every_plane_is_equally_likely(tmp_path):
    """A cache of 48 planes of 64 x 64, chunks of 8 planes, 4 neighbours (reaching one chunk on each
    side): blocks of 4 chunks = 32 planes, each serving 0.25 x 32 x 64^2 / (16^2 x 4) = 32 steps."""
    _, view = _views(tmp_path)
    stack = NormalizedStack(view, Normalizer("percentile", 0.0, 100.0), PlaneCache(48 * 64 * 64 * 4))
    planes = [(0, i) for i in range(96) if i % 10]  # some planes held out for validation
    local = LocalPlanes(planes, [stack], neighbors=4, patch=16, batch=4, seed=3)
    assert LocalPlanes.needed(planes, [stack]) and (local.depth, local.steps_per_block) == (32, 32)
    block = local(0, 0)
    assert all(local(0, step) == block for step in range(32)) and local(0, 32) != block
    first = planes[block[0]][1]
    assert first % 8 == 0 and [planes[i][1] for i in block] == [
        i for i in range(first, first + 32) if i % 10 and i < 96
    ]
    drawn = np.zeros(96)
    for b in range(3000):
        for i in local(b // 50, b % 50 * 32):
            drawn[planes[i][1]] += 1
    coverage = drawn[[i for _, i in planes]]
    assert coverage.min() > 0
    # the block's first chunk is drawn in proportion to its training planes, so whole blocks overlap
    # unevenly only at the volume's end: the middle planes are covered alike to within sampling noise
    middle = drawn[[i for _, i in planes if 32 <= i < 64]]
    assert middle.std() / middle.mean() < 0.1
    assert not LocalPlanes.needed(planes[:40], [stack])


def test_streaming_a_volume_larger_than_the_cache_decodes_each_chunk_once_per_block(tmp_path, monkeypatch):
    """96 planes of 64 x 64 (1.5 MiB) with --stream-cache-mb 1 (64 planes): 40 steps stay in one block,
    so training decodes at most its 2 chunks plus the 2 its neighbours reach into."""
    zyx, _ = _views(tmp_path)
    reads = []
    original = StackView.read_planes
    monkeypatch.setattr(StackView, "read_planes", lambda self, a, b: reads.append((a, b)) or original(self, a, b))
    kwargs = dict(neighbors=4, patch=16, batch=4, epochs=1, steps_per_epoch=40, val_patches=2, progress=False)
    model = api.train(str(tmp_path / "v.zarr"), tmp_path / "m", stream_cache_mb=1, **kwargs)
    assert model.config.data.stream_cache_mb == 1
    training_reads = [r for r in reads if r[1] - r[0] == 8]  # the normaliser's sample reads single planes
    assert 0 < len(training_reads) <= 4 + 8  # + the fixed validation batches drawn over all planes
