import json

import pytest

from noise2stack import api


def test_compare_smoke(tmp_path, tiny_stack):
    rows = ["Non-local means", "Noise2Noise", "Noise2Stack self 2"]
    table = api.compare(
        tiny_stack, tmp_path / "cmp", {"noise": "gaussian", "sigma": 10.0}, budget=2.0, methods=rows, progress=False
    )
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
        api.compare(
            tiny_stack, tmp_path / "c", {"noise": "gaussian", "sigma": 1.0}, budget=1, methods=["Magic"], progress=False
        )
    assert not (tmp_path / "c").exists()  # refused before anything is written


def test_compare_passes_training_options_to_every_trained_row(tmp_path, tiny_stack, monkeypatch):
    from noise2stack.errors import Noise2StackError

    with pytest.raises(Noise2StackError, match="unknown training options"):
        api.compare(
            tiny_stack,
            tmp_path / "bad",
            {"noise": "gaussian", "sigma": 1.0},
            budget=1,
            train_options={"magic": 1},
            progress=False,
        )
    import importlib

    rows_module = importlib.import_module("noise2stack.compare")  # the module (n2s.compare is the function)

    seen = []
    train = rows_module.train_model

    def spy(*args, **kwargs):
        seen.append({k: kwargs["options"].get(k) for k in ("method", "precision", "net")})
        return train(*args, **kwargs)

    monkeypatch.setattr(rows_module, "train_model", spy)
    rows = ["Noise2Void", "Noise2Void 2 (N2V2)"]
    api.compare(
        tiny_stack,
        tmp_path / "cmp",
        {"noise": "gaussian", "sigma": 10.0},
        budget=1.0,
        methods=rows,
        train_options={"precision": "32", "net": "csbdeep-unet"},
        progress=False,
    )
    # N2V2's own net wins over the common option; the precision reaches both rows
    assert seen == [
        {"method": "n2v", "precision": "32", "net": "csbdeep-unet"},
        {"method": "n2v", "precision": "32", "net": "n2v2-unet"},
    ]
    assert (
        "training options {'precision': '32', 'net': 'csbdeep-unet'}"
        in (tmp_path / "cmp" / "comparison.md").read_text()
    )
