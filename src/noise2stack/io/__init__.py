"""Readers and writers of image stacks, with explicit axes, and atomic file output."""

from noise2stack.io.atomic import atomic_path, write_json, write_text
from noise2stack.io.stacks import SUPPORTED_SUFFIXES, read_array, read_stack, to_zyx, write_stack

__all__ = [
    "SUPPORTED_SUFFIXES",
    "atomic_path",
    "read_array",
    "read_stack",
    "to_zyx",
    "write_json",
    "write_stack",
    "write_text",
]
