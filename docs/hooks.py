"""MkDocs hook: pages generated from the code, never copied by hand.

* ``<!-- noise2stack:cli -->`` becomes the command-line reference: for ``noise2stack`` and each of its
  commands (the typer app ``noise2stack.cli:app`` through ``typer.main.get_command``), the usage line,
  the description and a table of arguments and options with their help, as ``--help`` prints them.
* ``<!-- noise2stack:api -->`` becomes the API reference: one mkdocstrings entry per name of
  ``noise2stack.__all__``, read where the name is defined (the package exports them lazily).
* ``<!-- noise2stack:train-config -->`` becomes a table of every ``TrainConfig`` field: the keys a
  ``--config`` YAML file may set, with type, default and description.

The code documented is the tree being built: ``src/`` beside ``mkdocs.yml`` comes first on ``sys.path``.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path

CLI_MARKER = "<!-- noise2stack:cli -->"
CONFIG_MARKER = "<!-- noise2stack:train-config -->"
API_MARKER = "<!-- noise2stack:api -->"


def on_config(config):
    src = str(Path(config.config_file_path).resolve().parent / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if CONFIG_MARKER in markdown:
        markdown = markdown.replace(CONFIG_MARKER, train_config_table())
    if API_MARKER in markdown:
        markdown = markdown.replace(API_MARKER, api_reference())
    return markdown


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, line breaks joined."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text.replace("[", "\\[").replace("]", "\\]")  # "[default: ...]" is no link


def _usage(command, ctx, path: str) -> str:
    pieces = [path]
    if any(p.param_type_name == "option" for p in command.get_params(ctx)):
        pieces.append("[OPTIONS]")
    if getattr(command, "commands", None):
        pieces.append("COMMAND [ARGS]...")
    for param in command.get_params(ctx):
        if param.param_type_name != "argument":
            continue
        name = param.name.upper()
        name = f"{name}..." if param.nargs == -1 else name
        pieces.append(name if param.required else f"[{name}]")
    return " ".join(pieces)


def _param_table(command, ctx, kind: str) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        if param.param_type_name != kind:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        name, help_text = record
        if kind == "argument":
            name = param.name.upper()
        rows.append(f"| `{_cell(name)}` | {_cell(help_text)} |")
    if not rows:
        return []
    title = "Argument" if kind == "argument" else "Option"
    return [f"| {title} | Description |", "|---|---|", *rows, ""]


def _command_section(command, ctx, path: str, anchor: str) -> list[str]:
    lines = [f"## {path} {{#{anchor}}}", "", "```text", _usage(command, ctx, path), "```", ""]
    if command.help:
        lines += [command.help.strip(), ""]
    lines += _param_table(command, ctx, "argument")
    lines += _param_table(command, ctx, "option")
    return lines


def cli_reference() -> str:
    import typer.main

    from noise2stack.cli import app

    group = typer.main.get_command(app)
    root = group.make_context("noise2stack", [], resilient_parsing=True)
    lines = _command_section(group, root, "noise2stack", "noise2stack")
    names = group.list_commands(root)
    lines += ["Commands: " + ", ".join(f"[`{name}`](#{name})" for name in names) + ".", ""]
    for name in names:
        command = group.get_command(root, name)
        ctx = command.make_context(name, [], parent=root, resilient_parsing=True)
        lines += _command_section(command, ctx, f"noise2stack {name}", name)
    return "\n".join(lines)


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        names = " or ".join(_type_name(a) for a in inner)
        return f"{names}, optional" if len(inner) < len(args) else names
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(_type_name(a) for a in args)}]"
    return getattr(annotation, "__name__", str(annotation))


def _default(value) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    return f"`{value}`"


def _field_rows(cls, names) -> list[str]:
    rows = []
    for name in names:
        field = cls.model_fields[name]
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        flat = extra.get("flat", name)
        also = f" (flat: `{flat}`)" if flat != name else ""
        rows.append(
            f"| `{name}`{also} | {_cell(_type_name(field.annotation))} | {_cell(_default(field.default))} "
            f"| {_cell(field.description or '')} |"
        )
    return rows


def train_config_table() -> str:
    """One table per section of ``TrainConfig``: data, training, the shared method fields, each method's own."""
    from noise2stack.config_sections import AlgorithmConfig, DataConfig, TrainingConfig
    from noise2stack.methods import METHODS

    header = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    lines = ["### `data`", "", *header, *_field_rows(DataConfig, DataConfig.model_fields), ""]
    lines += ["### `training`", "", *header, *_field_rows(TrainingConfig, TrainingConfig.model_fields), ""]
    shared = [n for n in AlgorithmConfig.model_fields if n != "method"]
    lines += ["### `algorithm` (every method)", "", *header, *_field_rows(AlgorithmConfig, shared), ""]
    for name, method in METHODS.items():
        cls = method.config_class
        own = [n for n in cls.model_fields if n not in AlgorithmConfig.model_fields]
        changed = [
            f"`{n}` = {_default(cls.model_fields[n].default)}"
            for n in shared
            if cls.model_fields[n].default != AlgorithmConfig.model_fields[n].default
        ]
        lines += [f"### `algorithm` with `method: {name}`", ""]
        if changed:
            lines += ["Defaults of this method: " + ", ".join(changed) + ".", ""]
        lines += [*header, *_field_rows(cls, own), ""] if own else ["No fields of its own.", ""]
    return "\n".join(lines) + "\n"


def api_reference() -> str:
    """One ``:::`` entry per exported name, at the module that defines it, under a heading per kind."""
    import noise2stack

    groups = {"noise2stack.api": "Functions", "noise2stack.model": "A trained model"}
    lines: list[str] = []
    current = None
    for name in noise2stack.__all__:
        if name == "__version__":
            continue
        module = noise2stack._EXPORTS[name]
        title = groups.get(module, "Configuration and methods")
        if title != current:
            lines += [f"## {title}", ""]
            current = title
        lines += [f"::: {module}.{name}", "    options:", "      heading_level: 3", ""]
    return "\n".join(lines)
