"""A larger fuzzing budget than `make test` runs: tests/test_fuzz.py with N examples per target.

    python -m benchmarks.quality.fuzz [--examples 1000]

Reports, per target, how many cases hypothesis tried and whether all ended in a correct result or
the project's own one-line error. Writes ``quality/results/fuzz.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

from benchmarks.harness import ROOT, markdown_table, write_result

TESTS = ROOT / "tests" / "test_fuzz.py"


def run_pytest(examples: int) -> tuple[subprocess.CompletedProcess, float]:
    """tests/test_fuzz.py with ``examples`` hypothesis examples per target, and its seconds."""
    env = {**os.environ, "N2S_FUZZ_EXAMPLES": str(examples)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    command += ["--import-mode=importlib", "-o", "addopts=", str(TESTS)]
    start = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=TESTS.parent)
    return proc, time.monotonic() - start


def statistics_rows(stdout: str) -> tuple[list[list], int]:
    """(per target: name, cases tried, failing, invalid; total cases tried) from hypothesis' statistics."""
    rows, total = [], 0
    for name, block in re.findall(r"test_fuzz\.py::(\w+):\n(.*?)(?=\n\S|\Z)", stdout, re.S):
        phases = re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)
        passing, failing, invalid = (sum(int(p[i]) for p in phases) for i in range(3))
        total += passing + failing
        rows.append([name, passing + failing, failing, invalid])
    return rows, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args(argv)
    proc, elapsed = run_pytest(args.examples)
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    rows, total = statistics_rows(proc.stdout)
    verdict = "all passed" if proc.returncode == 0 else f"FAILURES (pytest exit {proc.returncode})"
    body = (
        f"`N2S_FUZZ_EXAMPLES={args.examples}`; {total} cases run in {elapsed:.0f} s; {verdict}.\n"
        "Allowed outcomes: a correct result (checked against an independent expectation) or a Noise2StackError "
        "with a one-line message.\n\n"
        + "Cases run: the examples that reached the code under test (hypothesis' passing + failing); inputs "
        "that a test's own `assume` filtered out before running are listed apart and not counted.\n\n"
        + markdown_table(["target", "cases run", "failing", "filtered out, not run"], rows)
    )
    print(body)
    write_result(
        __package__,
        "fuzz.md",
        "Fuzzing readers, sampler, tiler, metrics and config loader",
        body,
        seeds="hypothesis draws its own random examples (not seeded)",
        budget=f"{args.examples} examples per target",
        tuned="nothing",
        scored="generated inputs of tests/test_fuzz.py",
    )
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
