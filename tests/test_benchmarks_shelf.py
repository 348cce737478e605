"""The benchmark shelf stays tidy: every script answers --help, every result is stamped and indexed.

Fast (no benchmark runs): the scripts run as ``python -m benchmarks.<family>.<script> --help`` would,
through :mod:`runpy` in this process, so torch is imported once.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELF = ROOT / "benchmarks"
FAMILIES = ("quality", "papers", "speed", "scale", "races")
STAMP = re.compile(r"\bcommit [0-9a-f]{7,40}\b")
INDEX_PATH = re.compile(r"`((?:" + "|".join(FAMILIES) + r")/results/[^`\s]+)`")


def scripts() -> list[str]:
    """``benchmarks.<family>.<script>`` of every script (helper modules start with an underscore)."""
    return [
        f"benchmarks.{family}.{path.stem}"
        for family in FAMILIES
        for path in sorted((SHELF / family).glob("*.py"))
        if not path.name.startswith("_")
    ]


def result_files() -> list[Path]:
    """Every committed result file (smoke runs go to the git-ignored results/smoke/)."""
    return [
        path
        for family in FAMILIES
        for path in sorted((SHELF / family / "results").rglob("*"))
        if path.is_file() and "smoke" not in path.relative_to(SHELF / family / "results").parts
    ]


def test_families_are_packages_with_scripts():
    assert (SHELF / "__init__.py").is_file() and (SHELF / "harness.py").is_file()
    for family in FAMILIES:
        assert (SHELF / family / "__init__.py").is_file(), family
        assert (SHELF / family / "results").is_dir(), family
    assert not (SHELF / "results").exists(), "results live in benchmarks/<family>/results/"
    assert len(scripts()) >= 25


@pytest.mark.parametrize("module", scripts())
def test_script_help(module, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert exit_info.value.code in (0, None)
    assert "usage:" in out.getvalue()


def test_scripts_import_no_other_script():
    """Scripts share code through the harness (or their family's ``_helper`` module), never each other."""
    names = {m.rsplit(".", 1)[1] for m in scripts()}
    for family in FAMILIES:
        for path in (SHELF / family).glob("*.py"):
            text = path.read_text()
            assert "sys.path" not in text, path
            for match in re.finditer(r"^from benchmarks\.(\w+)\.(\w+) import", text, re.M):
                assert match.group(2).startswith("_") and match.group(2) not in names, (path, match.group(0))


def test_every_result_starts_with_a_stamp():
    markdown = [p for p in result_files() if p.suffix == ".md"]
    assert markdown
    for path in markdown:
        head = "\n".join(path.read_text().splitlines()[:12])
        assert STAMP.search(head), f"{path.relative_to(SHELF)} has no 'commit <hash>' in its first 12 lines"


def test_index_lists_every_result_and_only_existing_ones():
    index = (SHELF / "INDEX.md").read_text()
    listed = set(INDEX_PATH.findall(index))
    files = {str(p.relative_to(SHELF)) for p in result_files()}
    assert files - listed == set(), f"result files missing from benchmarks/INDEX.md: {sorted(files - listed)}"
    assert listed - files == set(), f"benchmarks/INDEX.md names files that do not exist: {sorted(listed - files)}"
    modules = set(re.findall(r"python -m (benchmarks\.\w+\.\w+)", index))
    assert modules <= set(scripts()), sorted(modules - set(scripts()))


def test_snapshot_stamps_a_tree_dirty_for_code_and_clean_for_earlier_results(tmp_path):
    """``snapshot.sh`` on a small git repository: an uncommitted result file leaves the tree clean
    (a run launched after an earlier one has written its result), a changed source file makes it dirty."""
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    for name in ("snapshot.sh", "harness.py", "__init__.py"):
        shutil.copy(SHELF / name, repo / "benchmarks" / name)
    (repo / "benchmarks" / "fam").mkdir()
    (repo / "benchmarks" / "fam" / "__init__.py").write_text("")
    (repo / "benchmarks" / "fam" / "show.py").write_text(
        "from benchmarks.harness import git_state\nprint(*git_state())\n"
    )
    (repo / "benchmarks" / "fam" / "results").mkdir()
    (repo / "benchmarks" / "fam" / "results" / "earlier.md").write_text("a result\n")
    (repo / "src").mkdir()
    (repo / "src" / "code.py").write_text("x = 1\n")
    (repo / "tests").mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "start"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
    commit = head.stdout.strip()

    def stamp_of_a_run() -> str:
        # snapshot.sh exports its own N2S_COMMIT and N2S_TREE, whatever the caller has
        env = {**os.environ, "N2S_PYTHON": sys.executable, "N2S_DATA": str(tmp_path)}
        run = [shutil.which("bash") or "bash", str(repo / "benchmarks" / "snapshot.sh"), "fam.show"]
        return subprocess.run(run, check=True, capture_output=True, text=True, env=env).stdout.strip()

    (repo / "benchmarks" / "fam" / "results" / "earlier.md").write_text("a newer result\n")
    assert stamp_of_a_run() == f"{commit} clean"
    (repo / "src" / "code.py").write_text("x = 2\n")
    assert stamp_of_a_run() == f"{commit} dirty"


def test_convergence_folds_earlier_points_in_by_seconds(tmp_path, monkeypatch):
    """A long budget run later joins the short ones of an earlier result, in order of seconds."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.papers import convergence

    run = {"psnr": 20.0, "steps": 10, "patches": 40, "train_seconds": 59.0}
    earlier = tmp_path / "convergence_x.md"
    earlier.write_text(f"- commit abc1234 (tree clean)\n\nRaw: `{ {'A': {'60 s': [run], '300 s': [run]}} }`\n")
    points, commit = convergence.earlier_points(earlier)
    assert commit == "abc1234"
    later = {"A": {"1800 s": [dict(run, psnr=21.0)], "60 s": [dict(run, psnr=19.0)]}, "B": {"1800 s": [run]}}
    both = convergence.merged(later, points)
    assert list(both["A"]) == ["60 s", "300 s", "1800 s"]
    assert both["A"]["60 s"][0]["psnr"] == 19.0  # the new run wins a tie
    assert list(both["B"]) == ["1800 s"]
    stamped = tmp_path / "convergence_y.md"
    stamped.write_text(earlier.read_text().replace("\n\n", "\n- cpu AMD EPYC; 2 cores\n\n", 1))
    assert convergence.earlier_points(stamped)[1] == "abc1234, cpu AMD EPYC; 2 cores"  # the machine is named
    (tmp_path / "other.md").write_text("no raw line\n")
    with pytest.raises(SystemExit, match="no 'Raw:' line"):
        convergence.earlier_points(tmp_path / "other.md")


def test_convergence_pools_a_later_session_s_seeds_with_the_earlier_ones(tmp_path, monkeypatch):
    """Seed 1 run later joins seed 0's point (mean ± sd of both); a rerun of seed 0 replaces it."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.papers import convergence

    run = {"psnr": 20.0, "steps": 10, "patches": 40, "train_seconds": 1790.0}
    earlier = tmp_path / "convergence_x.md"
    earlier.write_text(
        "- commit abc1234 (tree clean)\n- seeds training [0]; noise: train 0, copy 1, test 2\n"
        "- budget 1800 s per point (each point its own run); earlier points from def5678\n\n"
        f"Raw: `{ {'A': {'1800 s': [run]}} }`\n"
    )
    points, origin = convergence.earlier_points(earlier)
    assert points["A"]["1800 s"][0]["seed"] == 0  # from the stamp: the run predates the seed key
    assert origin == "abc1234; its own earlier points from def5678"
    both = convergence.merged({"A": {"1800 s": [dict(run, psnr=21.0, steps=14, seed=1)]}}, points)
    assert [r["psnr"] for r in both["A"]["1800 s"]] == [20.0, 21.0]
    assert convergence.cell(both["A"]["1800 s"]) == "20.50 ± 0.71 (2 seeds, 12 steps, 40 patches)"
    assert convergence.seeds_of(both) == [0, 1]
    again = convergence.merged({"A": {"1800 s": [dict(run, psnr=19.0, seed=0)]}}, points)
    assert [r["psnr"] for r in again["A"]["1800 s"]] == [19.0]


def test_convergence_names_the_points_run_here_per_curve(monkeypatch):
    """With ``--curves`` one curve's 300 s may be new while another's comes from the earlier file."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.papers import convergence

    text = convergence.provenance_text({"B": ["300 s", "1800 s"]}, "convergence_x.md", "abc1234")
    assert text == " Run here: B at 300 s, 1800 s; every other point from `convergence_x.md` (commit abc1234)."
    assert convergence.provenance_text({"B": ["300 s"]}, None, "") == ""


def test_convergence_refuses_an_unknown_curve_before_any_training(monkeypatch, capsys):
    """``--curves`` names curves of the family; a typo stops at once with the labels to choose from."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.papers import convergence

    with pytest.raises(SystemExit):
        convergence.main(["--family", "n2sr", "--smoke", "--curves", "Noise2Void", "Noise2Viod"])
    error = capsys.readouterr().err
    assert "'Noise2Viod' is not a curve of n2sr" in error
    assert "Noise2Noise" in error  # the labels to choose from


def test_pn2v_regimes_have_the_noise_of_the_mean_of_n_images(monkeypatch):
    """``pn2v_intensity --averages n``: the noise variance is 1/n of the single image's (paper 004's NR)."""
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.harness import simulate
    from benchmarks.quality import pn2v_intensity

    single, mean_of_4 = pn2v_intensity.averaged("tribolium", 1), pn2v_intensity.averaged("tribolium", 4)
    assert single.noise["peak"] == 30.0 and mean_of_4.noise["peak"] == 120.0
    clean = single.clean()[:8]
    variances = [np.var(simulate(clean, ds.noise, 1) - clean) for ds in (single, mean_of_4)]
    assert variances[0] / variances[1] == pytest.approx(4.0, rel=0.03)
    # the read noise alone (no photons: every pixel but one at 0, which keeps the stack's maximum)
    dark = np.zeros_like(clean)
    dark[0, 0, 0] = clean.max()
    read = [np.var(simulate(dark, ds.noise, 1)[1:]) for ds in (single, mean_of_4)]
    assert read[0] / read[1] == pytest.approx(4.0, rel=0.03)
