"""Check memory before a big allocation, so that the user gets advice instead of an OOM kill."""

from __future__ import annotations

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
        What to lower, e.g. "--tile or --batch".
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
