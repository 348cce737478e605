#!/usr/bin/env bash
# Run a benchmark from a frozen copy of the source, so that editing the tree cannot change a
# long run half-way:  bash benchmarks/snapshot.sh residual_self_mode.py --epochs 3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
snap="$(mktemp -d)"
cp -r "$here/../src" "$here/../tests" "$here"/*.py "$snap/"
cd "$snap"
FUZZ_TESTS="$snap/tests/test_fuzz.py" SHARED_DATA="$(cd "$here/../.." && pwd)/shared/data" PYTHONPATH="$snap/src" RESULTS_DIR="${RESULTS_DIR:-$here/results}" "$here/../.venv/bin/python" "$@"
