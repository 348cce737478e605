"""Resumable training state in one safetensors file: nothing is ever unpickled.

Lightning's own checkpoints are pickles. :class:`SafeCheckpointIO` replaces its storage: every
tensor of the checkpoint (weights, Adam moments) goes into the safetensors body, and the rest (loop
progress, scheduler state, callback state: ints, floats, strings, lists, dicts) into the file's
header as JSON that keeps tuple and dict-key types. A loader that meets anything else refuses it.
The file is written atomically, so a kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from noise2stack.errors import Noise2StackError
from noise2stack.io.atomic import atomic_path

STATE_KEY = "noise2stack.training_state"


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)} if not math.isfinite(obj) else obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"checkpoint dict key of type {type(k).__name__} cannot be stored safely")
        return {"__dict__": [[k, _encode(v, tensors)] for k, v in obj.items()]}
    raise TypeError(f"checkpoint value of type {type(obj).__name__} cannot be stored safely")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict) and len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag == "__tensor__" and value in tensors:
            return tensors[value]
        if tag == "__float__" and value in ("inf", "-inf", "nan"):
            return float(value)
        if tag == "__tuple__" and isinstance(value, list):
            return tuple(_decode(v, tensors) for v in value)
        if tag == "__dict__" and isinstance(value, list):
            out = {}
            for item in value:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                    break
                out[item[0]] = _decode(item[1], tensors)
            else:
                return out
    raise ValueError(f"unexpected entry in checkpoint: {str(obj)[:80]}")


def save_state(state: dict, path: str | os.PathLike) -> None:
    """Write a (possibly nested) training state to ``path`` atomically."""
    tensors: dict[str, torch.Tensor] = {}
    header = json.dumps(_encode(state, tensors))
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={STATE_KEY: header})


def load_state(path: str | os.PathLike) -> dict:
    """Read a training state written by :func:`save_state` (no pickle involved)."""
    path = Path(path)
    if not path.is_file():
        raise Noise2StackError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = (handle.metadata() or {}).get(STATE_KEY)
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        if header is None:
            raise ValueError("no training state in the file")
        state = _decode(json.loads(header), tensors)
    except (SafetensorError, ValueError, OSError, json.JSONDecodeError) as exc:
        raise Noise2StackError(
            f"{path} is not a valid noise2stack checkpoint: {str(exc).splitlines()[0][:120]}"
        ) from None
    if not isinstance(state, dict):
        raise Noise2StackError(f"{path} is not a valid noise2stack checkpoint")
    return state


class SafeCheckpointIO(CheckpointIO):
    """Lightning checkpoint storage through :func:`save_state` / :func:`load_state`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        save_state(checkpoint, path)

    def load_checkpoint(self, path, map_location: Optional[Any] = None, weights_only: Optional[bool] = None) -> dict:
        return load_state(path)

    def remove_checkpoint(self, path) -> None:
        Path(path).unlink(missing_ok=True)
