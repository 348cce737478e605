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


def test_flat_names_of_version_1_land_in_their_sections():
    flat = dict(
        method="pn2v",
        noise_model="nm.npz",
        pn2v_samples=8,
        noise_model_clip=True,
        n2v_fraction=0.1,
        n2v_window=5,
        num_workers=2,
        patch=32,
        lr=5e-4,
        units=4,  # NRRN's field at its old default: dropped, as every flat file carried it
    )
    cfg = make_config(**flat)
    algorithm = cfg.algorithm
    assert (algorithm.method, algorithm.samples, algorithm.clip, algorithm.fraction, algorithm.window) == (
        "pn2v",
        8,
        True,
        0.1,
        5,
    )
    assert (cfg.data.workers, cfg.data.patch, cfg.training.lr) == (2, 32, 5e-4)
    assert not hasattr(algorithm, "units")


def test_another_methods_option_with_a_value_is_refused_not_ignored():
    with pytest.raises(Noise2StackError, match="`units` is not an option of `method` n2v"):
        make_config(method="n2v", units=3)


def test_each_method_section_brings_its_defaults_and_learning_rate():
    assert (make_config(method="n2n").algorithm.mode, make_config(method="n2n").algorithm.neighbors) == ("copy", 0)
    nrrn = make_config(method="nrrn")
    assert (nrrn.algorithm.net, nrrn.algorithm.neighbors, nrrn.training.lr) == ("nrrn", 2, 1e-3)
    assert make_config(method="nrrn", lr=1e-4).training.lr == 1e-4
    assert (make_config(method="n2v").algorithm.residual, make_config().algorithm.residual) == (False, True)


def test_sectioned_yaml_round_trips_and_names_a_bad_key_by_its_section(tmp_path):
    cfg = make_config(method="n2v", n2v_fraction=0.2, patch=48, max_time=30)
    path = tmp_path / "c.yaml"
    path.write_text(config_to_yaml(cfg))
    assert load_config(path) == cfg
    path.write_text("algorithm:\n  method: n2v\n  fraction: 0.9\n")
    with pytest.raises(Noise2StackError, match=r"algorithm\.fraction"):
        load_config(path)
    path.write_text("data:\n  patchsize: 64\n")
    with pytest.raises(Noise2StackError, match=r"data\.patchsize: unknown key"):
        load_config(path)


def test_updated_keeps_what_the_user_gave_apart_from_defaults():
    cfg = make_config(steps_per_epoch=7).updated(training={"epochs": 3})
    assert cfg.training.epochs == 3 and cfg.training.model_fields_set >= {"steps_per_epoch", "epochs"}
    assert "patch" not in cfg.data.model_fields_set
    with pytest.raises(Noise2StackError, match="epochs"):
        cfg.updated(training={"epochs": 0})


def test_a_sectioned_file_without_a_method_keeps_its_fields_under_command_line_options(tmp_path):
    from noise2stack.train.start import build_config

    path = tmp_path / "mri.yaml"
    path.write_text("algorithm:\n  net: n2n-unet\n  residual: false\ndata:\n  patch: 256\n")
    cfg = build_config(None, path, {"mode": "copy", "neighbors": 4}, None)
    assert (cfg.method, cfg.algorithm.net, cfg.algorithm.residual, cfg.algorithm.mode) == (
        "n2stack",
        "n2n-unet",
        False,
        "copy",
    )
    assert (cfg.algorithm.neighbors, cfg.data.patch) == (4, 256)
    path.write_text("method: n2v\nn2v_replacement: median\n")  # a flat file of version 1
    assert build_config(None, path, {"patch": 32}, None).algorithm.replacement == "median"


def test_a_method_sets_its_own_data_defaults_only_where_the_user_gave_none(tmp_path):
    # NRRN trains on small patches in small batches (benchmarks/papers/results/nrrn_budget.md)
    assert (make_config(method="nrrn").data.patch, make_config(method="nrrn").data.batch) == (16, 4)
    assert (make_config(method="n2v").data.patch, make_config(method="n2v").data.batch) == (64, 16)
    given = make_config(method="nrrn", patch=64)
    assert (given.data.patch, given.data.batch) == (64, 4)
    # a model folder written with the earlier defaults keeps them when it is read again
    path = tmp_path / "config.yaml"
    path.write_text(config_to_yaml(make_config(method="nrrn", patch=64, batch=16)))
    loaded = load_config(path)
    assert (loaded.data.patch, loaded.data.batch) == (64, 16)
    assert load_config(path, epochs=3).data.patch == 64
