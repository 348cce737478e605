import pytest

from noise2stack.config import TrainConfig, config_to_yaml, load_config, make_config
from noise2stack.errors import Noise2StackError


def test_defaults_follow_the_paper():
    cfg = TrainConfig()
    assert (cfg.training.lr, cfg.data.batch, cfg.data.percentiles, cfg.training.total_epochs()) == (
        1e-3,
        16,
        (3.0, 99.8),
        100,
    )


def test_yaml_round_trip_and_cli_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(config_to_yaml(make_config(neighbors=4, patch=32)))
    cfg = load_config(path, patch=48, seed=None)
    assert (cfg.algorithm.neighbors, cfg.data.patch, cfg.training.seed) == (4, 48, 0)


@pytest.mark.parametrize(
    "text,match",
    [
        ("neighbors: four\n", "neighbors"),
        ("patchsize: 64\n", "patchsize: unknown key"),
        ("- a\n- b\n", "mapping"),
        ("mode: [\n", "not valid YAML"),
        ("mode: sideways\n", "mode"),
    ],
)
def test_bad_yaml_names_the_problem(tmp_path, text, match):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(Noise2StackError, match=match):
        load_config(path)
