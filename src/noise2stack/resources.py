"""Check memory before a big allocation, so that the user gets advice instead of an OOM kill; pick
the arithmetic; keep the heap warm for repeated large allocations."""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import platform
import sys
import threading

import numpy as np
import torch

from noise2stack.errors import Noise2StackError


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(needed: float, what: str, lower: str, available: int | None = None) -> None:
    """Raise a one-line error if ``needed`` bytes exceed 80 % of the available memory.

    Parameters
    ----------
    needed : float
        Estimated bytes.
    what : str
        The work being estimated, e.g. "prediction with --tile 4096 --batch 8".
    lower : str
        What to lower, e.g. "`tile` or `batch`".
    """
    available = available_memory() if available is None else available
    if available is not None and needed > 0.8 * available:
        raise Noise2StackError(
            f"{what} needs about {_gib(needed)} of memory but {_gib(available)} is available; lower {lower}"
        )


def network_bytes(net, batch: int, height: int, width: int, training: bool) -> float:
    """Rough activation memory of ``net`` for a batch of planes (float32)."""
    per_pixel = net.floats_per_pixel_train if training else net.floats_per_pixel_infer
    return 4.0 * batch * height * width * (per_pixel + net.in_channels)


def native_bf16() -> bool:
    """Whether this machine computes bf16 natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16 or AMX.

    Elsewhere bf16 is emulated and slower than float32 (so ``precision="auto"`` stays float32 there).
    """

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:  # private helpers of torch.cpu (present since torch 2.1); a CPU without them stays float32
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return False


def resolve_precision(precision: str) -> str:
    """``"auto"`` to ``"bf16"``, ``"16"`` (a GPU without bf16) or ``"32"`` on this machine; others unchanged."""

    if precision != "auto":
        return precision
    if native_bf16():
        return "bf16"
    return "16" if torch.cuda.is_available() else "32"


#: Autocast dtype of each resolved precision (None: float32, no autocast).
AUTOCAST_DTYPES = {"32": None, "bf16": "bfloat16", "16": "float16"}


def check_precision(precision: str) -> None:
    """Refuse, in one line, a resolved ``precision`` this machine cannot run."""

    if precision not in AUTOCAST_DTYPES:
        raise Noise2StackError(f"unknown `precision` {precision!r}; use 32, bf16 or 16")
    if precision == "16" and not torch.cuda.is_available():
        raise Noise2StackError("`precision` 16 (fp16) needs a GPU; use bf16 or 32 on a CPU")


def autocast(device_type: str, precision: str):
    """The autocast context of a resolved ``precision`` on ``device_type`` (a no-op for float32)."""

    name = AUTOCAST_DTYPES[precision]
    return torch.autocast(device_type, dtype=getattr(torch, name or "float32"), enabled=name is not None)


# glibc's mallopt parameters (malloc.h) and the values they get back when the last user leaves.
# Returning to glibc's static defaults (mmap above 128 KiB) would be slower than where its dynamic
# threshold settles (32 MiB, trim at twice that), which setting any parameter switches off for good.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_RESTORED = ((_M_MMAP_MAX, 65536), (_M_MMAP_THRESHOLD, 32 * 2**20), (_M_TRIM_THRESHOLD, 64 * 2**20))
_heap_lock = threading.Lock()
_heap_users = 0


def _glibc():
    """The C library as a ctypes handle when it is glibc with ``mallopt``, else None."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextlib.contextmanager
def reuse_freed_memory():
    """Keep freed blocks in the process heap while the block runs, for the next allocation to reuse.

    glibc serves every block above 32 MiB with a fresh ``mmap`` and returns it on ``free``, so each
    activation of a 512 x 512 forward pass (32 channels: 32 MiB) costs page faults as it is first
    written: 1.4x the time of a float32 plane on a 2-core CPU
    (``benchmarks/speed/results/predict_levers.md``). Inside this context no block is mmapped and the heap
    is not trimmed; on leaving it (the last of nested or concurrent users) glibc's behaviour is
    restored and the free memory goes back to the system (``malloc_trim``). Elsewhere than glibc it
    does nothing.
    """
    global _heap_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap_lock:
        if _heap_users == 0:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, 2**30)
        _heap_users += 1
    try:
        yield
    finally:
        with _heap_lock:
            _heap_users -= 1
            if _heap_users == 0:
                for param, value in _RESTORED:
                    libc.mallopt(param, value)
                libc.malloc_trim(0)


def unheaped_zeros(shape: tuple, dtype=np.float32) -> np.ndarray:
    """Zeros in an anonymous memory map of their own, given back to the system when the array is freed.

    An array allocated inside :func:`reuse_freed_memory` lands in the heap, which is kept: a result
    that outlives the context (a block's output, hundreds of MiB) then leaves a hole that the next
    block's allocations fragment, and the heap creeps up block after block. Mapped pages start as
    zeros, so this is ``np.zeros`` without the heap.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes < 2**20:  # small arrays: the heap is the right place
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)
