#!/usr/bin/env bash
# Run a benchmark from a frozen copy of the source, so that editing the tree cannot change a long run
# half-way. The results land in this tree's benchmarks/<family>/results/, stamped with the commit (and
# clean/dirty state) the copy was taken from:
#   bash benchmarks/snapshot.sh quality.residual_self_mode --epochs 3
# N2S_PYTHON picks the interpreter (default: the repository's .venv).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
script="${1:?usage: snapshot.sh FAMILY.SCRIPT [ARGS...]}"
shift
snap="$(mktemp -d)"
trap 'rm -rf "$snap"' EXIT
cp -r "$repo/src" "$repo/tests" "$snap/"
mkdir "$snap/benchmarks"
# the shelf's code only: its results and the CAREamics venv stay in the tree
(cd "$repo/benchmarks" && find . -name '*.py' -not -path './.peers-venv/*' -not -path '*/results/*' \
    -exec cp --parents {} "$snap/benchmarks/" \;)
python="${N2S_PYTHON:-$repo/.venv/bin/python}"
# the commit and whether the tree just copied was clean, by the harness's rule (result files do not count)
IFS=$'\t' read -r N2S_COMMIT N2S_TREE < <(PYTHONPATH="$repo" "$python" \
    -c 'import sys; from pathlib import Path; from benchmarks.harness import tree_state; print(*tree_state(Path(sys.argv[1])), sep="\t")' "$repo")
export N2S_COMMIT N2S_TREE
export N2S_SHELF="$repo/benchmarks" N2S_DATA="${N2S_DATA:-$(cd "$repo/.." && pwd)/shared/data}"
cd "$snap"
PYTHONPATH="$snap/src:$snap" "$python" -m "benchmarks.$script" "$@"
