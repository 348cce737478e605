"""PredictOptions: every prediction option is validated here, once, into a one-line error."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from noise2stack.errors import Noise2StackError
from noise2stack.methods import METHODS
from noise2stack.nets import NETS
from noise2stack.predict import PredictOptions


@pytest.mark.parametrize(
    "values,message",
    [
        ({"tile": 0}, "`tile` must be positive, got 0"),
        ({"batch": 0}, "`batch` must be at least 1"),
        ({"overlap": -1}, "`overlap` must be >= 0"),
        ({"stitch": "sew"}, "unknown `stitch` 'sew'; use blend or cut"),
        ({"precision": "8"}, "unknown `precision` '8'"),
        ({"output_scale": 0}, "`output_scale` must be positive"),
        ({"chunk_planes": 0}, "`chunk_planes` must be positive"),
        ({"jobs": 0}, "`jobs` must be positive"),
        ({"stack_axis": "Q"}, "`stack_axis` must be Z or T, got 'Q'"),
        ({"scheduler": "cluster"}, "neither threads, processes, synchronous nor a scheduler address"),
        ({"channels": "all"}, "unknown `channels` 'all'; use separate or joint"),
        ({"devices": 0}, "`devices` must be at least 1, got 0"),
        ({"devices": ["cpu", "gpu7"]}, "unknown device 'gpu7'"),
        ({"devices": 2, "scheduler": "processes"}, "one worker per GPU"),
        ({"tile": "large"}, "`tile`: Input should be a valid integer"),
        ({"tiles": 4}, "unknown prediction option `tiles`"),
    ],
)
def test_each_bad_value_is_one_line(values, message):
    with pytest.raises(Noise2StackError) as info:
        PredictOptions(**values)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_values_are_normalised_and_frozen():
    options = PredictOptions(stack_axis="t", devices=["cpu", "cpu:0"])
    assert options.stack_axis == "T" and options.devices == ("cpu", "cpu:0")
    with pytest.raises(ValidationError, match="frozen"):
        options.tile = 3


def test_what_depends_on_the_network_or_the_model():
    options = PredictOptions(tile=50)
    assert options.core_tile(16) == 48 and options.core_tile(1) == 50
    with pytest.raises(Noise2StackError, match="`tile` must be at least 64 pixels"):
        options.core_tile(64)
    assert options.batch_on("cpu") == 1 and options.batch_on("cuda") == 8
    assert PredictOptions(batch=3).batch_on("cuda") == 3
    assert options.channels_for(1) == "separate" and options.channels_for(3) == "joint"
    with pytest.raises(Noise2StackError, match="trained on 2 channels jointly"):
        PredictOptions(channels="separate").channels_for(2)
    with pytest.raises(Noise2StackError, match="write OUT.zarr"):
        PredictOptions(devices=2).require_in_memory()
    assert PredictOptions(tta=True).without_tta() == PredictOptions()


def test_the_record_of_a_chunked_store_is_the_one_written_before_the_options_existed():
    # a store started by the earlier version records exactly these settings: it still resumes
    record = PredictOptions(batch=4, jobs=3, tile=64).record(stack_axis="Z", channels="separate")
    assert record == {
        "stack_axis": "Z",
        "chunk_planes": 32,
        "tile": 64,
        "overlap": None,
        "tta": False,
        "channels": "separate",
        "precision": "32",
    }
    assert PredictOptions(stitch="cut").record(stack_axis="Z", channels="separate")["stitch"] == "cut"


def test_prediction_code_asks_the_method_and_names_none():
    """No method or network name in predict/: capabilities and the registries answer instead."""
    import re

    names = set(METHODS) | set(NETS) | {"noise2sr", "noise2void", "pn2v", "nrrn"}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names)) + r")\b", re.IGNORECASE)
    folder = Path(__file__).resolve().parents[2] / "src" / "noise2stack" / "predict"
    for path in sorted(folder.glob("*.py")):
        found = pattern.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name} names {sorted(set(found))}"
