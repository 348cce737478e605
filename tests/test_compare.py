import json

import pytest

from noise2stack import api


def test_compare_smoke(tmp_path, tiny_stack):
    rows = ["Non-local means", "Noise2Noise", "Noise2Stack self 2"]
    table = api.compare(tiny_stack, tmp_path / "cmp", {"noise": "gaussian", "sigma": 10.0}, budget=2.0, methods=rows, progress=False)
    assert list(table) == ["Input", *rows]
    text = (tmp_path / "cmp" / "comparison.md").read_text()
    assert all(f"| {r} |" in text for r in ["Input", *rows])
    saved = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert len(saved["Input"]["per_plane_psnr"]) == tiny_stack.shape[0]
    assert table["Non-local means"]["psnr"] > table["Input"]["psnr"]
    for name in ("panel.png", "psnr_per_plane.png"):
        assert (tmp_path / "cmp" / name).stat().st_size > 1000
    html = (tmp_path / "cmp" / "comparison.html").read_text()
    assert all(f"<td>{label}</td><td>{r['psnr']:.2f}</td>" in html for label, r in table.items())
    assert html.count('src="data:image/png;base64,') == 3 and "http" not in html


def test_compare_refuses_unknown_rows(tmp_path, tiny_stack):
    from noise2stack.errors import Noise2StackError

    with pytest.raises(Noise2StackError, match="unknown rows"):
        api.compare(tiny_stack, tmp_path / "c", {"noise": "gaussian", "sigma": 1.0}, budget=1, methods=["Magic"], progress=False)
    assert not (tmp_path / "c").exists()  # refused before anything is written
