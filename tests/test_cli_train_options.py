"""train's options come from the config sections: every field has its flag, and a flag reaches the config."""

import numpy as np
import yaml
from typer.testing import CliRunner

from noise2stack.cli import app, train_command
from noise2stack.config_sections import DataConfig, TrainingConfig
from noise2stack.methods import METHODS


def _train_flags() -> set[str]:
    command = train_command()
    return {opt for param in command.params for opt in param.opts}


def _field_flags() -> set[str]:
    flags = set()
    for cls in [DataConfig, TrainingConfig] + [m.config_class for m in METHODS.values()]:
        for name, info in cls.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("cli", True):
                flags.add(extra.get("flag", "--" + name.replace("_", "-")))
    return flags


def test_every_config_field_has_its_flag_and_the_flags_of_the_contract_stay():
    flags = _train_flags()
    assert _field_flags() <= flags
    contract = ["--method", "--mode", "--neighbors", "--max-time", "--epochs", "--steps-per-epoch", "--patch"]
    contract += ["--batch", "--seed", "--axes", "--net", "--n2v2", "--n2v-window", "--n2v-fraction", "--residual"]
    contract += ["--batch-norm", "--background", "--loss", "--normalization", "--noise-model", "--samples", "--clip"]
    contract += ["--units", "--workers", "--stream-cache-mb", "--devices", "--precision", "--init", "--renormalize"]
    contract += ["--stream", "--channels", "--target", "--val", "--val-target", "--config", "--resume", "--out"]
    assert set(contract) <= flags


def test_a_generated_flag_reaches_the_saved_config(tmp_path):
    np.save(tmp_path / "s.npy", 10 + 100 * np.random.default_rng(0).random((6, 32, 32)).astype(np.float32))
    args = ["train", str(tmp_path / "s.npy"), "--out", str(tmp_path / "m"), "--epochs", "1", "--steps-per-epoch", "2"]
    args += ["--patch", "16", "--batch", "2", "--val-patches", "2", "--quiet"]
    args += ["--warmup-steps", "1", "--lr", "0.002", "--val-fraction", "0.2", "--no-channels-last", "--method", "n2v"]
    args += ["--n2v-window", "7"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    saved = yaml.safe_load((tmp_path / "m" / "config.yaml").read_text())
    assert saved["training"]["warmup_steps"] == 1 and saved["training"]["lr"] == 0.002
    assert saved["data"]["val_fraction"] == 0.2 and saved["training"]["channels_last"] is False
    assert saved["algorithm"]["window"] == 7


def test_a_bad_value_is_one_line_naming_the_option(tmp_path):
    np.save(tmp_path / "s.npy", np.ones((4, 16, 16), np.float32))
    r = CliRunner().invoke(app, ["train", str(tmp_path / "s.npy"), "--out", str(tmp_path / "m"), "--patch", "4"])
    assert r.exit_code == 2 and "patch" in r.output and len(r.output.strip().splitlines()) == 1


def test_commands_other_than_train_start_without_torch():
    import subprocess
    import sys

    code = "import sys; from noise2stack.cli import main; main(['evaluate', '--help'])"
    code = code.replace(
        "main(['evaluate', '--help'])",
        "\ntry:\n  main(['evaluate', '--help'])\nexcept SystemExit:\n  pass\nprint('torch' in sys.modules)",
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_predict_has_a_flag_per_prediction_option_and_keeps_its_contract():
    from noise2stack.cli import generated_command
    from noise2stack.predict.options import PredictOptions

    flags = {opt for param in generated_command("predict").params for opt in param.opts}
    assert {"--" + name.replace("_", "-") for name in PredictOptions.model_fields} <= flags
    contract = ["--tile", "--overlap", "--tta", "--batch", "--axes", "--kspace", "--overwrite", "--quiet", "--log-json"]
    contract += ["--uncertainty", "--output-scale", "--stitch", "--images", "--save-units", "--stack-axis"]
    contract += ["--chunk-planes", "--scheduler", "--jobs", "--pyramid", "--channels", "--devices", "--precision"]
    assert set(contract) <= flags
