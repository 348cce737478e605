"""Random test volumes, a tiny model and peak memory for the scale family (scale.scale, scale.chunkings,
scale.stream_training); not a script."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np


def make_volume(path: Path, shape: tuple, chunk_planes: int, npy_data: bool = True) -> None:
    """A random float32 Zarr volume (written plane block by plane block) and the same as .npy
    (``npy_data=False``: an .npy of that shape whose data are never written, a sparse file)."""
    import zarr

    array = zarr.create_array(
        str(path.with_suffix(".zarr")),
        shape=shape,
        chunks=(chunk_planes, min(shape[1], 1024), min(shape[2], 1024)),
        dtype="float32",
        dimension_names=["z", "y", "x"],
        compressors=None,
    )
    npy = np.lib.format.open_memmap(path.with_suffix(".npy"), mode="w+", dtype=np.float32, shape=shape)
    rng = np.random.default_rng(0)
    for z in range(0, shape[0], chunk_planes):
        block = rng.random((min(chunk_planes, shape[0] - z),) + shape[1:], dtype=np.float32)
        array[z : z + block.shape[0]] = block
        if npy_data:
            npy[z : z + block.shape[0]] = block
    npy.flush()


def disk_bytes(path: Path) -> int:
    """Bytes a file or folder takes on disk (allocated blocks: a sparse file counts what it holds)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files)


def make_model(folder: Path) -> None:
    """A Noise2Stack self model (Table S1 U-Net, 4 neighbours) after 2 steps on random data."""
    from noise2stack import api

    stack = np.random.default_rng(0).random((16, 64, 64), dtype=np.float32)
    api.train(stack, folder, neighbors=4, patch=32, batch=2, epochs=1, steps_per_epoch=2, seed=0, progress=False)


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB. Not ``ru_maxrss``: after fork and exec that
    starts from the parent's resident size, so a child of a large parent reports the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux
