"""The bad-input catalogue (``benchmarks/quality/bad_inputs.py``) as a test: every case exits 2 with one
line on stderr and writes nothing."""

from benchmarks.quality import bad_inputs


def test_every_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path):
    bad_inputs.make_inputs(tmp_path)
    rows = bad_inputs.run_cases(tmp_path)
    assert len(rows) >= 70
    wrong = [f"{name}: exit {code}, {n} lines, wrote {wrote}: {shown}" for name, code, n, wrote, shown in rows
             if code != 2 or n != 1 or wrote]  # fmt: skip
    assert not wrong, "\n".join(wrong)
