import math
import os
import pickle

import pytest
import torch

from noise2stack.errors import Noise2StackError
from noise2stack.train.checkpoint import load_state, save_state


def test_round_trip_keeps_types_and_tensors(tmp_path):
    state = {
        "global_step": 7,
        "optimizer_states": [
            {
                "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(2, 3)}},
                "param_groups": [{"betas": (0.9, 0.999), "params": [0]}],
            }
        ],
        "loops": {"x": {"done": True, "values": [1, 2.5, None, "s"]}},
        "best": math.inf,
    }
    save_state(state, tmp_path / "c.safetensors")
    out = load_state(tmp_path / "c.safetensors")
    assert out["global_step"] == 7 and out["best"] == math.inf
    group = out["optimizer_states"][0]
    assert list(group["state"]) == [0] and group["param_groups"][0]["betas"] == (0.9, 0.999)
    assert torch.equal(group["state"][0]["exp_avg"], state["optimizer_states"][0]["state"][0]["exp_avg"])
    assert out["loops"] == state["loops"]


def test_objects_that_need_pickle_are_refused_on_save(tmp_path):
    with pytest.raises(TypeError):
        save_state({"fn": print}, tmp_path / "c.safetensors")


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_in_place_of_a_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.safetensors").write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(Noise2StackError, match="not a valid noise2stack checkpoint"):
        load_state(tmp_path / "c.safetensors")
    torch.save({"x": _Payload()}, tmp_path / "t.safetensors")  # a torch zip pickle under our name
    with pytest.raises(Noise2StackError):
        load_state(tmp_path / "t.safetensors")
    assert not (tmp_path / "PWNED").exists()
