"""A larger fuzzing budget than `make test` runs: tests/test_fuzz.py with N examples per target.

Reports, per target, how many cases hypothesis tried and whether all ended in a correct result or
the project's own one-line error; writes benchmarks/results/fuzz.md.

    python benchmarks/fuzz.py [--examples 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import markdown_table, write_result

TESTS = Path(os.environ.get("FUZZ_TESTS", Path(__file__).resolve().parents[1] / "tests" / "test_fuzz.py"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    env = {**os.environ, "N2S_FUZZ_EXAMPLES": str(args.examples)}
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
            "--import-mode=importlib",
            "-o",
            "addopts=",
            str(TESTS),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )
    elapsed = time.monotonic() - start
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    rows, total = [], 0
    for name, block in re.findall(r"test_fuzz\.py::(\w+):\n(.*?)(?=\n\S|\Z)", proc.stdout, re.S):
        phases = re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)
        passing = sum(int(p) for p, _, _ in phases)
        failing = sum(int(f) for _, f, _ in phases)
        invalid = sum(int(i) for _, _, i in phases)
        tried = passing + failing
        total += tried
        rows.append([name, tried, failing, invalid])
    verdict = "all passed" if proc.returncode == 0 else f"FAILURES (pytest exit {proc.returncode})"
    body = (
        f"`N2S_FUZZ_EXAMPLES={args.examples}`; {total} cases tried in {elapsed:.0f} s; {verdict}.\n"
        "Allowed outcomes: a correct result (checked against an independent expectation) or a Noise2StackError "
        "with a one-line message.\n\n"
        + markdown_table(["target", "cases tried", "failing", "invalid (filtered)"], rows)
    )
    print(body)
    write_result("fuzz.md", "Fuzzing readers, sampler, tiler, metrics and config loader", body)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
