"""Chunked prediction (Dask) equals in-memory prediction, resumes, refuses foreign stores."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile
import torch
import zarr
from typer.testing import CliRunner

from noise2stack import api
from noise2stack.cli import app
from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.data.sampler import plane_indices
from noise2stack.errors import Noise2StackError
from noise2stack.io.zarr_io import inspect_volume
from noise2stack.model import Model
from noise2stack.predict import chunked
from noise2stack.predict.chunked import predict_volume, slab_range


def make_model(folder, neighbors=4, seed=0, mode="self"):
    """A saved model with random weights: chunked vs in-memory needs no training."""
    torch.manual_seed(seed)
    model = Model(make_config(neighbors=neighbors, mode=mode), Normalizer("percentile", 10.0, 110.0))
    model.save(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("m") / "model")


def volume(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 100 + 10).astype(np.float32)


def in_memory(model_dir, zyx):
    return api.predict(model_dir, zyx, axes="ZYX", progress=False)


@pytest.mark.parametrize(
    "n_planes,chunk,neighbors", [(n, c, k) for n in range(2, 12) for c in (1, 2, 3, 5) for k in (2, 4, 6)]
)
def test_slab_keeps_the_end_of_stack_rule(n_planes, chunk, neighbors):
    """Every plane's neighbours inside its block's slab are its neighbours in the whole volume."""
    for include_center in (False, True):
        for start in range(0, n_planes, chunk):
            stop = min(start + chunk, n_planes)
            lo, hi = slab_range(start, stop, n_planes, neighbors)
            for i in range(start, stop):
                whole = plane_indices(i, n_planes, neighbors, include_center)
                local = plane_indices(i - lo, hi - lo, neighbors, include_center)
                assert [j + lo for j in local] == whole


def test_chunked_equals_in_memory_along_z_odd_sizes(tmp_path, model_dir):
    zyx = volume((11, 37, 29))
    src = tmp_path / "in.zarr"
    zarr.create_array(str(src), shape=zyx.shape, chunks=(4, 16, 16), dtype="float32", dimension_names=["z", "y", "x"])[
        :
    ] = zyx
    spec = inspect_volume(src)
    assert spec.axes == "ZYX"
    predict_volume([model_dir], spec, tmp_path / "out.zarr", chunk_planes=3, scheduler="synchronous", progress=False)
    result = zarr.open_array(str(tmp_path / "out.zarr" / "0"), mode="r")[:]
    expected = in_memory(model_dir, zyx)
    assert np.array_equal(result, expected)
    # the ends differ from an unclipped slab: plane 0 uses planes [1, 1, 1, 2] (end-of-stack rule)
    assert not np.array_equal(result[0], in_memory(model_dir, zyx[[2, 1, 0, 1, 2]])[2])


def test_chunked_along_t_with_z_looped_from_lazy_tiff(tmp_path, model_dir):
    """TZYX, neighbours along T: each Z position is a T-stack of its own."""
    tzyx = volume((9, 2, 21, 18), seed=1)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, tzyx, metadata={"axes": "TZYX"})
    spec = inspect_volume(src)
    assert spec.axes == "TZYX" and spec.kind == "tiff"
    out = tmp_path / "out.zarr"
    ticks = []
    predict_volume(
        [model_dir],
        spec,
        out,
        stack_axis="T",
        chunk_planes=4,
        scheduler="threads",
        jobs=2,
        progress=lambda d, t: ticks.append((d, t)),
    )
    result = zarr.open_array(str(out / "0"), mode="r")[:]
    for z in range(2):
        assert np.array_equal(result[:, z], in_memory(model_dir, tzyx[:, z]))
    assert ticks[-1] == (6, 6)  # 2 Z positions x 3 blocks of T


def test_resume_after_interruption_predicts_only_missing_blocks(tmp_path, model_dir, monkeypatch):
    zyx = volume((10, 24, 20), seed=2)
    src = tmp_path / "in.npy"
    np.save(src, zyx)
    spec = inspect_volume(src)
    out = tmp_path / "out.zarr"
    calls = []
    real = chunked.predict_block

    def crashing(model_ref, spec, out_path, block, settings):
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while the third block is running
        calls.append(block.number)
        return real(model_ref, spec, out_path, block, settings)

    monkeypatch.setattr(chunked, "predict_block", crashing)
    with pytest.raises(KeyboardInterrupt):
        predict_volume([model_dir], spec, out, chunk_planes=3, scheduler="synchronous", progress=False)
    assert zarr.open_group(str(out), mode="r").attrs["noise2stack"]["complete"] is False
    # A block killed after writing its data but before its record is simply redone.
    zarr.open_array(str(out / "0"), mode="r+")[3 * calls[1] : 3 * calls[1] + 3] = -1.0
    zarr.open_array(str(out / "noise2stack_done"), mode="r+")[calls[1]] = 0
    redone = []
    monkeypatch.setattr(chunked, "predict_block", lambda *a: (redone.append(a[3].number), real(*a))[1])
    predict_volume([model_dir], spec, out, chunk_planes=3, scheduler="synchronous", progress=False)
    assert sorted(redone) == sorted(set(range(4)) - {calls[0]})  # only the first finished block is kept
    assert np.array_equal(zarr.open_array(str(out / "0"), mode="r")[:], in_memory(model_dir, zyx))
    attrs = zarr.open_group(str(out), mode="r").attrs["noise2stack"]
    assert attrs["complete"] is True and "noise2stack_done" not in zarr.open_group(str(out), mode="r")


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_complete_or_foreign_store_is_refused_and_left_alone(tmp_path, model_dir):
    zyx = volume((6, 16, 16), seed=3)
    src = tmp_path / "in.npy"
    np.save(src, zyx)
    spec = inspect_volume(src)
    out = tmp_path / "out.zarr"
    predict_volume([model_dir], spec, out, chunk_planes=4, scheduler="synchronous", progress=False)
    before = _snapshot(out)
    with pytest.raises(Noise2StackError, match="finished prediction; pass `overwrite`"):
        predict_volume([model_dir], spec, out, chunk_planes=4, scheduler="synchronous", progress=False)
    # an unfinished store of another setting
    group = zarr.open_group(str(out), mode="r+")
    group.attrs["noise2stack"] = {**group.attrs["noise2stack"], "complete": False}
    before = _snapshot(out)
    with pytest.raises(Noise2StackError, match="started with another settings"):
        predict_volume([model_dir], spec, out, chunk_planes=2, scheduler="synchronous", progress=False)
    other = make_model(tmp_path / "other", seed=5)
    with pytest.raises(Noise2StackError, match="started with another model"):
        predict_volume([other], spec, out, chunk_planes=4, scheduler="synchronous", progress=False)
    assert _snapshot(out) == before
    predict_volume([other], spec, out, chunk_planes=4, scheduler="synchronous", progress=False, overwrite=True)
    assert np.array_equal(zarr.open_array(str(out / "0"), mode="r")[:], in_memory(other, zyx))


def test_bad_inputs_are_one_line_errors(tmp_path, model_dir, monkeypatch):
    zyx = volume((6, 16, 16), seed=3)
    np.save(tmp_path / "in.npy", zyx)
    spec = inspect_volume(tmp_path / "in.npy")
    with pytest.raises(Noise2StackError, match="`stack_axis` T is not an axis"):
        predict_volume([model_dir], spec, tmp_path / "o.zarr", stack_axis="T", progress=False)
    from noise2stack import resources

    monkeypatch.setattr(resources, "available_memory", lambda: 10_000)
    with pytest.raises(Noise2StackError, match=r"lower `chunk_planes` \(or `jobs`\)"):
        predict_volume([model_dir], spec, tmp_path / "o.zarr", progress=False)
    monkeypatch.undo()
    with pytest.raises(Noise2StackError, match="neither threads, processes, synchronous nor a scheduler address"):
        predict_volume([model_dir], spec, tmp_path / "o.zarr", scheduler="cluster", progress=False)
    assert not (tmp_path / "o.zarr").exists()


def test_unreachable_scheduler_fails_fast(tmp_path, model_dir):
    import socket
    import time

    np.save(tmp_path / "in.npy", volume((6, 16, 16)))
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(Noise2StackError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        predict_volume(
            [model_dir],
            inspect_volume(tmp_path / "in.npy"),
            tmp_path / "o.zarr",
            scheduler=f"tcp://127.0.0.1:{port}",
            connect_timeout=2,
            progress=False,
        )
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "o.zarr").exists()


def test_zcyx_tiff_comes_out_in_ngff_order(tmp_path, model_dir):
    """NGFF puts channels before space: ZCYX in, CZYX out, same values per channel."""
    zcyx = volume((7, 2, 19, 17), seed=4)
    tifffile.imwrite(tmp_path / "in.tif", zcyx, metadata={"axes": "ZCYX"}, photometric="minisblack")
    out = tmp_path / "out.zarr"
    predict_volume(
        [model_dir], inspect_volume(tmp_path / "in.tif"), out, chunk_planes=4, scheduler="synchronous", progress=False
    )
    assert inspect_volume(out).axes == "CZYX"
    result = zarr.open_array(str(out / "0"), mode="r")[:]
    for c in range(2):
        assert np.array_equal(result[c], in_memory(model_dir, zcyx[:, c]))


def test_two_worker_local_cluster_equals_a_local_run(tmp_path, model_dir, monkeypatch):
    from distributed import Client, LocalCluster

    # LocalCluster writes OMP_NUM_THREADS=1 (and MKL_...) into this process's environment for its
    # workers; restore it after the test so later subprocesses train with the usual threads
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.setenv(name, os.environ[name]) if name in os.environ else monkeypatch.delenv(name, raising=False)

    zyx = volume((9, 22, 19), seed=5)
    np.save(tmp_path / "in.npy", zyx)
    spec = inspect_volume(tmp_path / "in.npy")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        predict_volume(
            [model_dir],
            spec,
            tmp_path / "out.zarr",
            chunk_planes=2,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
        with Client(cluster) as client:  # each worker process loaded the model at most once
            loads = client.run(lambda: __import__("noise2stack.predict.chunked", fromlist=["x"]).MODEL_LOADS["count"])
    assert sorted(loads.values()) in ([1, 1], [0, 1])
    result = zarr.open_array(str(tmp_path / "out.zarr" / "0"), mode="r")[:]
    assert np.array_equal(result, in_memory(model_dir, zyx))


def test_devices_take_contiguous_ranges_along_the_stack_axis():
    blocks = chunked.plan_blocks(inspect_volume_stub((2, 10)), "Z", 3)  # 2 C indices x blocks [0,3) [3,6) [6,9) [9,10)
    assert chunked.assign_devices(blocks, 2) == [0, 0, 1, 1] * 2
    assert chunked.assign_devices(blocks, 3) == [0, 0, 1, 2] * 2
    assert chunked.assign_devices(blocks, 1) == [0] * 8


def inspect_volume_stub(shape_cz):
    from noise2stack.io.zarr_io import VolumeSpec

    return VolumeSpec("x", "npy", "", "CZYX", (*shape_cz, 8, 8), "<f4")


def test_two_devices_each_predict_their_own_blocks_in_order_equal_to_one(tmp_path, model_dir, monkeypatch):
    """Two device names on the CPU: the same result, each block on its device, one block at a time per device."""
    zyx = volume((13, 24, 20), seed=3)
    np.save(tmp_path / "in.npy", zyx)
    spec = inspect_volume(tmp_path / "in.npy")
    seen, running, overlap = [], {}, []
    real = chunked.predict_block

    def spy(model_ref, spec, out, block, settings, device=None, after=None):
        running[device] = running.get(device, 0) + 1
        overlap.append(running[device])
        try:
            return real(model_ref, spec, out, block, settings, device, after)
        finally:
            seen.append((block.start, device))
            running[device] -= 1

    monkeypatch.setattr(chunked, "predict_block", spy)
    predict_volume([model_dir], spec, tmp_path / "out.zarr", chunk_planes=2, devices=["cpu", "cpu:0"], progress=False)
    result = zarr.open_array(str(tmp_path / "out.zarr" / "0"), mode="r")[:]
    assert np.array_equal(result, in_memory(model_dir, zyx))
    assert sorted(seen) == [(0, "cpu"), (2, "cpu"), (4, "cpu"), (6, "cpu"), (8, "cpu:0"), (10, "cpu:0"), (12, "cpu:0")]
    assert max(overlap) == 1  # a device's blocks form a chain
    for device in ("cpu", "cpu:0"):
        starts = [s for s, d in seen if d == device]
        assert starts == sorted(starts)


def test_devices_refused_without_gpus_or_for_in_memory_output(tmp_path, model_dir):
    np.save(tmp_path / "in.npy", volume((4, 16, 16)))
    if not torch.cuda.is_available():
        r = CliRunner().invoke(
            app,
            [
                "predict",
                str(model_dir),
                str(tmp_path / "in.npy"),
                str(tmp_path / "o.zarr"),
                "--devices",
                "2",
                "--quiet",
            ],
        )
        assert r.exit_code == 2 and "2 GPUs" in r.output and not (tmp_path / "o.zarr").exists()
    r = CliRunner().invoke(
        app, ["predict", str(model_dir), str(tmp_path / "in.npy"), str(tmp_path / "o.tif"), "--devices", "2", "--quiet"]
    )
    assert r.exit_code == 2 and "Zarr" in r.output and not (tmp_path / "o.tif").exists()
    with pytest.raises(Noise2StackError, match="one worker per GPU"):
        predict_volume(
            [model_dir],
            inspect_volume(tmp_path / "in.npy"),
            tmp_path / "p.zarr",
            devices=["cpu", "cpu"],
            scheduler="processes",
            progress=False,
        )


def test_in_memory_prediction_of_a_stack_too_big_is_refused_before_reading(tmp_path, model_dir, monkeypatch):
    """The header says the size: a stack that does not fit is refused with the chunked way out,
    before its data are read, and no output is written."""
    from noise2stack import resources

    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(64, 256, 256))
    del big
    monkeypatch.setattr(resources, "available_memory", lambda: 40 * 2**20)  # 40 MiB
    read = []
    monkeypatch.setattr(api, "load_zyx", lambda *a, **k: read.append(a) or np.zeros((1, 1, 1)))
    with pytest.raises(Noise2StackError, match=r"\(64, 256, 256\) in memory needs about 0\.1 GiB.*OUT\.zarr"):
        api.predict(model_dir, tmp_path / "big.npy", tmp_path / "out.tif", progress=False)
    assert not read and not (tmp_path / "out.tif").exists()


def test_chunked_runs_the_same_engine_as_in_memory_cut_stitching_and_tta_included(tmp_path, model_dir):
    zyx = volume((7, 45, 38), seed=6)
    np.save(tmp_path / "in.npy", zyx)
    options = dict(tile=16, overlap=8, stitch="cut", tta=True)
    result = api.predict(
        model_dir, tmp_path / "in.npy", tmp_path / "out.zarr", chunk_planes=3, progress=False, **options
    )
    expected = api.predict(model_dir, zyx, axes="ZYX", progress=False, **options)
    assert np.array_equal(np.asarray(result), expected)
    assert zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs["noise2stack"]["settings"]["stitch"] == "cut"


@pytest.mark.parametrize("option", ["uncertainty", "save_units", "kspace"])
def test_outputs_that_need_the_whole_stack_are_refused_for_zarr(tmp_path, model_dir, option):
    np.save(tmp_path / "in.npy", volume((6, 16, 16)))
    value = [tmp_path / "k.npz"] if option == "kspace" else tmp_path / "x"
    with pytest.raises(Noise2StackError, match="needs the whole stack in memory"):
        api.predict(model_dir, tmp_path / "in.npy", tmp_path / "o.zarr", progress=False, **{option: value})
    with pytest.raises(Noise2StackError, match="give OUT.zarr"):
        api.predict(model_dir, tmp_path / "o.zarr", progress=False)
    assert not (tmp_path / "o.zarr").exists()


def test_a_model_that_is_not_one_pass_is_refused_before_the_store_is_made(tmp_path):
    torch.manual_seed(0)
    Model(make_config(method="n2sr"), Normalizer("percentile", 10.0, 110.0)).save(tmp_path / "sr")
    np.save(tmp_path / "in.npy", volume((4, 16, 16)))
    with pytest.raises(Noise2StackError, match=r"runs one-pass methods \(.*\); predict this n2sr model into a TIFF"):
        api.predict(tmp_path / "sr", tmp_path / "in.npy", tmp_path / "o.zarr", progress=False)
    assert not (tmp_path / "o.zarr").exists()
