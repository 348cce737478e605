"""The model folder: round trip, and refusal of anything that is not a safe, valid model."""

import json
import os
import pickle

import pytest
import yaml

from noise2stack.config import make_config
from noise2stack.data.normalize import Normalizer
from noise2stack.errors import Noise2StackError
from noise2stack.model import Model


@pytest.fixture
def saved(tmp_path):
    model = Model(make_config(neighbors=4), Normalizer("percentile", 10.0, 200.0))
    model.save(tmp_path / "m")
    return model, tmp_path / "m"


def test_round_trip_gives_identical_network(saved):
    import torch

    model, folder = saved
    loaded = Model.load(folder)
    x = torch.randn(1, 4, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(loaded.net(x), model.net.eval()(x), rtol=0, atol=0)
    assert loaded.config == model.config
    assert loaded.normalizer.to_dict() == model.normalizer.to_dict()
    assert len(loaded.checksum()) == 64


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_payloads_are_never_unpickled(saved, tmp_path, monkeypatch):
    _, folder = saved
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps(_Payload())
    for name in ("model.pt", "model.pth", "checkpoint.ckpt", "last.ckpt", "weights.pkl"):
        (folder / name).write_bytes(payload)
    Model.load(folder)  # extra pickle files are ignored, never opened
    (folder / "checkpoint.safetensors").write_bytes(payload)
    Model.load(folder)  # the checkpoint is read only by --resume (refused there: test_checkpoint.py)
    (folder / "weights.safetensors").write_bytes(payload)
    with pytest.raises(Noise2StackError, match="does not hold this model's weights"):
        Model.load(folder)
    assert not (tmp_path / "PWNED").exists()


def test_yaml_and_background_payloads_are_refused(saved, tmp_path, monkeypatch):
    _, folder = saved
    monkeypatch.chdir(tmp_path)
    good = (folder / "config.yaml").read_text()
    (folder / "config.yaml").write_text("!!python/object/apply:os.system ['touch PWNED']\n")
    with pytest.raises(Noise2StackError, match="not valid YAML"):
        Model.load(folder)
    (folder / "config.yaml").write_text(good)
    stats = json.loads((folder / "normalization.json").read_text())
    stats["has_background"] = True
    (folder / "normalization.json").write_text(json.dumps(stats))
    (folder / "background.safetensors").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(Noise2StackError, match="normalisation"):
        Model.load(folder)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "change,match",
    [
        ({"net": "vit-huge"}, "unknown net"),
        ({"patch": -5}, "patch"),
        ({"neighbors": 3}, "even"),
        ({"surprise": 1}, "surprise: unknown key"),
    ],
)
def test_bad_config_is_named(saved, change, match):
    _, folder = saved
    data = yaml.safe_load((folder / "config.yaml").read_text())
    data.update(change)
    (folder / "config.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(Noise2StackError, match=match):
        Model.load(folder)


def test_future_format_is_refused(saved):
    _, folder = saved
    info = json.loads((folder / "versions.json").read_text())
    info["format"] = 99
    (folder / "versions.json").write_text(json.dumps(info))
    with pytest.raises(Noise2StackError, match="newer"):
        Model.load(folder)


def test_weights_of_another_shape_are_refused(saved, tmp_path):
    _, folder = saved
    other = Model(make_config(neighbors=2), Normalizer("percentile", 0.0, 1.0))
    other.save(tmp_path / "other")
    (folder / "weights.safetensors").write_bytes((tmp_path / "other" / "weights.safetensors").read_bytes())
    with pytest.raises(Noise2StackError, match="weights"):
        Model.load(folder)


def test_not_a_model(tmp_path):
    with pytest.raises(Noise2StackError, match="not a noise2stack model"):
        Model.load(tmp_path)
    with pytest.raises(Noise2StackError, match="not found"):
        Model.load(tmp_path / "nothing")
