"""The heap stays warm inside ``reuse_freed_memory``: large blocks come back without page faults."""

import resource
import threading

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


@glibc_only
def test_freed_blocks_are_reused_inside_and_returned_after():
    outside = _page_faults_of_large_blocks()
    # glibc maps every such block afresh: at least one fault per page, or per 2 MiB page where the
    # kernel backs the mapping with transparent huge pages (4 x 48 MiB: 96 faults at the least)
    assert outside >= FRESH
    with resources.reuse_freed_memory():
        _page_faults_of_large_blocks(1)  # the heap grows once
        inside = _page_faults_of_large_blocks()
    assert inside < outside / 10
    assert _page_faults_of_large_blocks() > outside / 2  # glibc's behaviour is back


@glibc_only
def test_settings_last_until_the_last_nested_or_concurrent_user_leaves():
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
