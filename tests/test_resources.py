"""The heap stays warm inside ``reuse_freed_memory``: large blocks come back without page faults.

Each measurement runs in a fresh Python process: a heap that earlier tests left holding large free
chunks serves a new block from them without faults, whatever glibc's settings are.
"""

import resource
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from noise2stack import resources

glibc_only = pytest.mark.skipif(resources._glibc() is None, reason="the heap settings are glibc's")


FRESH = 4 * 48 // 2  # faults of 4 fresh 48 MiB blocks on 2 MiB transparent huge pages


def _page_faults_of_large_blocks(blocks: int = 4, mib: int = 48) -> int:
    """Page faults taken while writing ``blocks`` fresh blocks of ``mib`` MiB one after another."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(blocks):
        block = np.ones(mib * 2**20 // 8)
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _in_fresh_process(body: str) -> None:
    """Run this module's function ``body`` in a new interpreter, failing as it fails."""
    here = str(Path(__file__).parent)
    code = f"import sys; sys.path.insert(0, {here!r}); import test_resources; test_resources.{body}()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@glibc_only
def test_freed_blocks_are_reused_inside_and_returned_after():
    _in_fresh_process("reuse_then_restore")


@glibc_only
def test_settings_last_until_the_last_nested_or_concurrent_user_leaves():
    _in_fresh_process("nested_and_concurrent_users")


def reuse_then_restore() -> None:
    outside = _page_faults_of_large_blocks()
    # glibc maps every such block afresh: at least one fault per page, or per 2 MiB page where the
    # kernel backs the mapping with transparent huge pages (4 x 48 MiB: 96 faults at the least)
    assert outside >= FRESH
    with resources.reuse_freed_memory():
        _page_faults_of_large_blocks(1)  # the heap grows once
        inside = _page_faults_of_large_blocks()
    assert inside < outside / 10
    assert _page_faults_of_large_blocks() > outside / 2  # glibc's behaviour is back


def nested_and_concurrent_users() -> None:
    entered, release = threading.Event(), threading.Event()

    def other_user():
        with resources.reuse_freed_memory():
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=other_user)
    thread.start()
    entered.wait(30)
    try:
        with resources.reuse_freed_memory():
            with resources.reuse_freed_memory():
                pass
            _page_faults_of_large_blocks(1)
            assert _page_faults_of_large_blocks() < 50  # the inner exit restored nothing
        _page_faults_of_large_blocks(1)
        assert _page_faults_of_large_blocks() < 50  # nor ours: the other thread is still inside
    finally:
        release.set()
        thread.join()
    assert resources._heap_users == 0
    assert _page_faults_of_large_blocks() >= FRESH


def test_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(resources, "_glibc", lambda: None)
    with resources.reuse_freed_memory():
        assert resources._heap_users == 0
