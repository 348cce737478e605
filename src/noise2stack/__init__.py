"""noise2stack: self-supervised denoising of image stacks.

>>> import noise2stack as n2s
>>> model = n2s.train(["noisy.tif"], "model", method="n2stack", mode="self", neighbors=2, max_time=120)
>>> n2s.predict("model", "noisy.tif", "denoised.tif")
>>> n2s.analyze("noisy.tif")["recommendation"]

The names below are loaded on first use (PEP 562), so ``import noise2stack`` and the command line
start without importing torch.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    # the API: one function per command
    "train": "noise2stack.api",
    "predict": "noise2stack.api",
    "evaluate": "noise2stack.api",
    "analyze": "noise2stack.api",
    "simulate": "noise2stack.api",
    "denoise": "noise2stack.api",
    "compare": "noise2stack.api",
    "noise_model": "noise2stack.api",
    "report": "noise2stack.api",
    "export": "noise2stack.api",
    "load_model": "noise2stack.api",
    # a trained model and how it was configured
    "Model": "noise2stack.model",
    "TrainConfig": "noise2stack.config",
    "AlgorithmConfig": "noise2stack.config_sections",
    "DataConfig": "noise2stack.config_sections",
    "TrainingConfig": "noise2stack.config_sections",
    "load_config": "noise2stack.config",
    "make_config": "noise2stack.config",
    # the methods, their sections and what they declare
    "METHODS": "noise2stack.methods",
    "Method": "noise2stack.methods",
    "Capabilities": "noise2stack.methods",
    "N2StackConfig": "noise2stack.methods.n2stack",
    "N2NConfig": "noise2stack.methods.n2stack",
    "N2CConfig": "noise2stack.methods.n2c",
    "N2VConfig": "noise2stack.methods.n2v",
    "PN2VConfig": "noise2stack.methods.pn2v",
    "PN2StackConfig": "noise2stack.methods.pn2v",
    "N2SRConfig": "noise2stack.methods.n2sr",
    "NRRNConfig": "noise2stack.methods.nrrn",
    "Noise2StackError": "noise2stack.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'noise2stack' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # found once, then a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module: the API's ``train`` and ``predict`` win over the subpackages of those names.

    The import system binds every imported subpackage as an attribute of its parent; without this,
    importing ``noise2stack.train`` (the training internals) would replace ``n2s.train`` (the
    function). The modules stay importable by name (``from noise2stack.train import fit``,
    ``from noise2stack.report import model_report_html``); ``from noise2stack import report``
    gives the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
