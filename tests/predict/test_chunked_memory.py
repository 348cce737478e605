"""Chunked prediction's peak memory does not grow with the volume, whatever the input's chunking.

Each prediction runs in a fresh interpreter and reports its peak RSS (VmHWM). The network is
replaced by a stand-in that returns the planes asked for, so that a volume of hundreds of MB runs
in seconds: what is measured is everything around the network (reading slabs, normalising, the
Dask graph, writing blocks and their records), where memory held per block would pile up. The
network's own memory depends on the tile, not on the volume (tests/predict/test_tiling.py bounds it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import zarr

from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.io.zarr_io import inspect_volume
from noise2stack.model import Model
from noise2stack.predict import chunked

SIDE = 512

CHILD = """
import json, sys
from pathlib import Path
import numpy as np
from noise2stack import api
from noise2stack.predict import engine

def stand_in(net, stack, neighbors, include_center, options, *, planes, **_):
    return np.ascontiguousarray(stack[list(planes)], dtype=np.float32)  # the planes asked for, as the tiler returns them

engine.predict_stack = stand_in
model, src, out, chunk_planes = sys.argv[1:]
api.predict(model, src, out, progress=False, chunk_planes=int(chunk_planes))
status = Path("/proc/self/status").read_text().splitlines()
print(json.dumps({"peak_mib": int(next(l for l in status if l.startswith("VmHWM")).split()[1]) / 1024}))
"""


def write_volume(path, planes: int, chunks: tuple) -> None:
    """A float32 volume (planes, SIDE, SIDE) that compresses well (quick to write), in ``chunks``."""
    array = zarr.create_array(str(path), shape=(planes, SIDE, SIDE), chunks=chunks, dtype="float32")
    ramp = np.add.outer(np.arange(SIDE), np.arange(SIDE)).astype(np.float32) % 251
    step = chunks[0]
    for z in range(0, planes, step):
        n = min(step, planes - z)
        array[z : z + n] = ramp[None] + np.arange(z, z + n, dtype=np.float32)[:, None, None]


def peak_mib(model, src, out, chunk_planes: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(model), str(src), str(out), str(chunk_planes)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m") / "model"
    Model(make_config(neighbors=2, mode="self"), Normalizer("percentile", 0.0, 300.0)).save(folder)
    return folder


def test_peak_memory_does_not_grow_with_the_volume(tmp_path, model_dir):
    chunks = (8, 128, 128)  # the case: chunks that cut planes into tiles, blocks of 16 planes
    # The allocator's heap settles over the first few blocks (tens of MiB, measured: about +60 MiB from
    # block 1 to 4 of 1024 x 1024 planes, +15 from block 9 to 30), so both volumes have several.
    peaks = {}
    for planes in (64, 256):  # 64 MiB and 256 MiB of float32, in blocks of 16 planes (16 MiB)
        src = tmp_path / f"in-{planes}.zarr"
        write_volume(src, planes, chunks)
        peaks[planes] = peak_mib(model_dir, src, tmp_path / f"out-{planes}.zarr", chunk_planes=16)
        out = zarr.open_array(str(tmp_path / f"out-{planes}.zarr" / "0"), mode="r")
        assert out[planes - 1, 5, 7] == pytest.approx((5 + 7) % 251 + planes - 1)  # every block was written
    # 192 MiB more input: a block held after it is written would add 16 MiB each (192 MiB in all)
    assert peaks[256] - peaks[64] < 48, peaks


def test_input_chunks_that_span_the_stack_count_in_the_memory_check(tmp_path, monkeypatch):
    src = tmp_path / "in.zarr"
    zarr.create_array(str(src), shape=(64, 256, 256), chunks=(64, 256, 256), dtype="float32")
    spec = inspect_volume(src)
    # every slab read decodes the one chunk (16 MiB): the whole volume, however few planes a block has
    assert chunked.input_read_bytes(spec) == 64 * 256 * 256 * 4
    small = tmp_path / "small.zarr"
    zarr.create_array(str(small), shape=(64, 256, 256), chunks=(8, 256, 256), dtype="float32")
    assert chunked.input_read_bytes(inspect_volume(small)) == 8 * 256 * 256 * 4  # one row of chunks at a time
    monkeypatch.setattr("noise2stack.resources.available_memory", lambda: 20 * 2**20)
    options = chunked.PredictOptions(chunk_planes=2, stack_axis="Z")
    # 16 MiB decoded + 2 MiB of block > 80 % of 20 MiB; with 8-plane chunks 2 + 2 MiB fit
    with pytest.raises(Noise2StackError, match=r"smaller chunks along Z \(its chunks are \(64, 256, 256\)\)"):
        chunked._check_block_memory(spec, options, 64, 2, 1)
    chunked._check_block_memory(inspect_volume(small), options, 64, 2, 1)


@pytest.mark.parametrize("chunks", [(1, 5, 7, 4), (2, 37, 29, 31), (1, 1, 3, 31), (3, 8, 8, 8)])
def test_a_slab_read_box_by_box_equals_numpy_indexing(chunks):
    values = np.random.default_rng(0).random((3, 37, 29, 31), dtype=np.float32)
    array = zarr.create_array(store={}, shape=values.shape, chunks=chunks, dtype="float32")
    array[:] = values
    for index in [
        (1, slice(3, 30), slice(None), slice(None)),
        (slice(None), slice(0, 37), slice(5, 6), slice(2, 29)),
        (2, slice(10, 11), slice(None), 4),
    ]:
        for split in [(1, 2), (1,), ()]:
            assert np.array_equal(chunked.read_slab(array, index, *split), values[index])
