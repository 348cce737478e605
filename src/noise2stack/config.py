"""The one configuration model: from the CLI, the API or a YAML file into training, saved with every model.

A :class:`TrainConfig` is three sections (:mod:`noise2stack.config_sections`)::

    algorithm:   the method's own section, chosen by its tag (``method: n2v``; one class per method,
                 defined in the method's module: n2v's ``fraction``, pn2v's ``samples``, ...)
    data:        axes, patch, batch, normalisation, validation planes, loading
    training:    budget, epochs, learning rate, precision, devices, seed, checkpoints

It is written to the model folder as ``config.yaml`` and validated again on load, so a model folder
says exactly how it was made, and a hand-edited or hostile config is refused with a message that
names the bad key. Model folders and YAML files written before the sections (one flat mapping, model
format 1) are read through :func:`nest`, which is also how ``api.train(**options)`` takes its flat
keyword options (``patch=32``, ``n2v_fraction=0.1``, ``pn2v_samples=8``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from noise2stack.config_sections import AlgorithmConfig, DataConfig, Section, TrainingConfig
from noise2stack.errors import Noise2StackError
from noise2stack.methods import DEFAULT_METHOD, METHODS

SECTIONS = ("algorithm", "data", "training")

if TYPE_CHECKING:
    # The union is built from the registry at import time; to a type checker a section is any of
    # them, and each method reads its own fields (``config.algorithm.units`` in NRRN's module).
    AlgorithmSection = Any
else:
    #: The method sections, told apart by their ``method`` tag.
    AlgorithmSection = Annotated[Union[tuple(m.config_class for m in METHODS.values())], Field(discriminator="method")]


def _default_algorithm() -> AlgorithmConfig:
    return METHODS[DEFAULT_METHOD].config_class()


class TrainConfig(BaseModel):
    """How a denoising model is trained: the method's section, the data section, the training section."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    algorithm: AlgorithmSection = Field(default_factory=_default_algorithm)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="after")
    def _net_of_another_method(self) -> TrainConfig:
        owner = next((m.name for m in METHODS.values() if self.algorithm.net in m.own_nets), None)
        if owner is not None and owner != self.method:
            raise ValueError(f"net {self.algorithm.net!r} is made for method {owner}, not {self.method}")
        return self

    @model_validator(mode="after")
    def _method_learning_rate(self) -> TrainConfig:
        if self.training.lr is None:  # the method's own default (NRRN: 1e-4, paper 003)
            self.training = self.training.model_copy(update={"lr": type(self.algorithm).default_lr})
        return self

    @model_validator(mode="after")
    def _method_data_defaults(self) -> TrainConfig:
        given = self.data.model_fields_set
        update = {
            k: v for k, v in type(self.algorithm).data_defaults.items() if k not in given and getattr(self.data, k) != v
        }
        if update:  # compared first: the assignment runs this validator again
            self.data = self.data.model_copy(update=update)
        return self

    @property
    def method(self) -> str:
        """The method's registry name (``algorithm.method``)."""
        return self.algorithm.method

    def updated(self, **sections: dict[str, Any]) -> TrainConfig:
        """A validated copy with some fields of some sections changed: ``updated(training={"epochs": 5})``.

        The fields a section was given stay marked as given (``model_fields_set``), so what the user
        chose is still told apart from defaults after the program filled some in.
        """
        changes = {}
        for name, values in sections.items():
            section = getattr(self, name)
            try:  # validate the new values (model_copy alone does not)
                type(section).model_validate({**section.model_dump(), **values})
            except ValidationError as exc:
                raise _explain(exc, name) from None
            changes[name] = section.model_copy(update=values)
        return self.model_copy(update=changes)


def _flat_names(section: Any) -> dict[str, str]:
    """Flat (version 1) name -> field name, for the fields of one section class."""
    names = {}
    for field, info in section.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        names[str(extra.get("flat", field))] = field
    return names


def _method_section(method: Any) -> type[AlgorithmConfig]:
    if not isinstance(method, str) or method not in METHODS:
        raise Noise2StackError(f"unknown method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    return METHODS[method].config_class


def flat_names(method: str | None = None) -> set[str]:
    """The flat option names ``api.train(**options)`` accepts: for ``method``, or for any method."""
    methods = [METHODS[method]] if method is not None else list(METHODS.values())
    sections = [DataConfig, TrainingConfig] + [m.config_class for m in methods]
    return {name for section in sections for name in _flat_names(section)} | {"method"}


def method_named(values: dict[str, Any]) -> str | None:
    """The method a flat or sectioned mapping names, if any (a malformed section names none)."""
    section = values.get("algorithm")
    return values.get("method") or (section.get("method") if isinstance(section, dict) else None)


#: Defaults a version 1 flat file was written with, where today's differ (NRRN's ``units`` was 4 until
#: issue 23): every such file carries them for every method, so another method's copy is dropped too.
VERSION_1_DEFAULTS: dict[str, Any] = {"units": 4}


def nest(values: dict[str, Any], method: str = DEFAULT_METHOD) -> dict[str, Any]:
    """Sort flat options (the version 1 layout, or ``api.train``'s keywords) into the three sections.

    Keys that are already sections pass through. Method fields belong to the method ``values``
    names, else to ``method`` (the method of the values these will be merged over). A flat file of
    version 1 holds every method's fields; another method's field is dropped when it has that
    field's default value, and refused otherwise (it would be silently ignored).
    """
    nested: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for name in SECTIONS:
        section = values.get(name) or {}
        if not isinstance(section, dict):
            raise Noise2StackError(f"{name} must be a mapping of option names to values, got {section!r:.40}")
        nested[name].update(section)
    method = values.get("method", nested["algorithm"].get("method", method))
    section = _method_section(method)
    if "method" in values or "method" in nested["algorithm"] or any(k in _flat_names(section) for k in values):
        nested["algorithm"]["method"] = method
    owners = {
        "algorithm": _flat_names(section),
        "data": _flat_names(DataConfig),
        "training": _flat_names(TrainingConfig),
    }
    foreign = {
        flat: (m.config_class, field) for m in METHODS.values() for flat, field in _flat_names(m.config_class).items()
    }
    unknown = {}
    for key, value in values.items():
        if key in SECTIONS or key == "method":
            continue
        owner = next((name for name, names in owners.items() if key in names), None)
        if owner is not None:
            nested[owner][owners[owner][key]] = value
        elif key in foreign:
            cls, field = foreign[key]
            if value is not None and value not in (cls.model_fields[field].default, VERSION_1_DEFAULTS.get(key)):
                raise Noise2StackError(f"`{key}` is not an option of `method` {method}")
        else:
            unknown[key] = value
    return {**nested, **unknown}  # unknown keys reach the model and are refused there by name


def _explain(exc: ValidationError, source: str) -> Noise2StackError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    if len(loc) > 1 and loc[0] == "algorithm" and loc[1] in METHODS:
        del loc[1]  # the union's tag: "algorithm.n2v.fraction" reads "algorithm.fraction"
    key = ".".join(loc)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return Noise2StackError(f"{source}: {key + ': ' if key else ''}{msg}{more}")


def make_config(source: str = "options", **values: Any) -> TrainConfig:
    """Validate ``values`` (sections, or flat options) into a :class:`TrainConfig`, raising one-line errors."""
    values = nest(values)
    values["algorithm"].setdefault("method", DEFAULT_METHOD)
    try:
        return TrainConfig(**values)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def read_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping a YAML (or JSON) config file holds, or a one-line error."""
    p = Path(path)
    if not p.is_file():
        raise Noise2StackError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Noise2StackError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise Noise2StackError(f"{p} must hold a mapping of option names to values")
    return data


def load_config(path: str | os.PathLike, **overrides: Any) -> TrainConfig:
    """Read a YAML (or JSON) config file, sectioned or flat; ``overrides`` (not None, flat) win over the file."""
    base = nest(read_mapping(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    data = merge(base, nest(given, base["algorithm"].get("method", DEFAULT_METHOD)))
    return make_config(str(path), **data)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Sectioned values ``override`` over ``base`` (a section's fields one by one; a new method replaces
    the old method's section)."""
    merged = {**base, **{k: v for k, v in override.items() if k not in SECTIONS}}
    for name in SECTIONS:
        low, high = dict(base.get(name) or {}), dict(override.get(name) or {})
        if name == "algorithm" and "method" in low and high.get("method", low["method"]) != low["method"]:
            low = {}  # another method: the old method's fields mean nothing to it
        merged[name] = {**low, **high}
    return merged


def config_to_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


__all__ = [
    "AlgorithmConfig",
    "DataConfig",
    "Section",
    "TrainConfig",
    "TrainingConfig",
    "config_to_yaml",
    "flat_names",
    "load_config",
    "make_config",
    "merge",
    "method_named",
    "nest",
]
