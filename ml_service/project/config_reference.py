"""The configuration reference (docs/configuration.md) and `.env.example`, generated
from the settings models.

    python -m ml_service.project.config_reference [--check] [--output FILE] [--env-example FILE]

Every environment variable comes from `Env` and every parameters.json key from
the model package's `ModelParameters`, with their types, constraints, defaults
and descriptions, so neither file can drift from the code: `--check` (and the
test suite) fails when a committed file differs from what this renders.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings

from ml_service.project.package import model_package
from ml_service.settings import Env, load_env

log = logging.getLogger(__name__)

# Relative to the project folder `make docs` runs from.
REFERENCE_PATH = Path("docs") / "configuration.md"
ENV_EXAMPLE_PATH = Path(".env.example")

_CONSTRAINTS = (
    ("minLength", "at least {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
)


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return "object: " + str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        kinds = [_type_of(option, defs) for option in schema["anyOf"] if option != {"type": "null"}]
        optional = any(option == {"type": "null"} for option in schema["anyOf"])
        return " or ".join(kinds) + (", optional" if optional else "")
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(_type_of(item, defs) for item in schema["prefixItems"]) + "]"
        return f"list of ({_type_of(schema.get('items', {}), defs)})"
    if schema.get("format") == "path":
        return "path"
    return {
        "string": "text",
        "number": "number",
        "integer": "integer",
        "boolean": "true/false",
    }.get(kind, kind)


def _constraints(schema: dict[str, Any]) -> str:
    if schema.get("minLength") == 1:
        schema = {**schema, "minLength": None}
        found = ["not empty"]
    else:
        found = []
    if "minItems" in schema and schema.get("minItems") == schema.get("maxItems"):
        found.append(f"exactly {schema['minItems']} items")
        schema = {k: v for k, v in schema.items() if k not in ("minItems", "maxItems")}
    found += [text.format(schema[key]) for key, text in _CONSTRAINTS if schema.get(key) is not None]
    return ", ".join(found)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    if value is None:
        return "(unset)"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def settings_table(model: type[BaseModel]) -> list[str]:
    """Markdown rows, one per environment variable of a settings model."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    lines = [
        "| variable | type | default | constraints | description |",
        "|---|---|---|---|---|",
    ]
    for name, field in schema["properties"].items():
        lines.append(
            f"| `{name.upper()}` | {_cell(_type_of(field, defs))} | "
            f"{_cell(_code(field.get('default')))} | {_cell(_constraints(field))} | "
            f"{_cell(field.get('description', ''))} |"
        )
    return lines


def parameters_sections(model: type[BaseModel], values: dict[str, Any]) -> list[str]:
    """Markdown, one table per section of parameters.json, with the shipped values."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    lines: list[str] = []
    for section, reference in schema["properties"].items():
        target = reference.get("$ref") or reference.get("allOf", [{}])[0].get("$ref", "")
        definition = defs[target.rsplit("/", 1)[-1]]
        required = "required" if section in schema.get("required", []) else "optional"
        lines += [
            f"### `{section}` ({required})",
            "",
            definition.get("description", "").strip(),
            "",
        ]
        properties = definition.get("properties", {})
        if not properties:
            lines += ["No keys yet: the section must be `{}` or left out.", ""]
            continue
        lines += [
            "| key | type | constraints | shipped value | description |",
            "|---|---|---|---|---|",
        ]
        for key, field in properties.items():
            shipped = values.get(section, {}).get(key)
            lines.append(
                f"| `{section}.{key}` | {_cell(_type_of(field, defs))} | "
                f"{_cell(_constraints(field))} | {_cell(_code(shipped))} | "
                f"{_cell(field.get('description', ''))} |"
            )
        lines.append("")
    return lines


def render(
    settings: type[BaseModel], parameters: type[BaseModel], parameters_path: Path, package: str
) -> str:
    """The whole reference page."""
    values = json.loads(parameters_path.read_text(encoding="utf-8"))
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `make docs` (python -m ml_service.project.config_reference) from the",
        "     settings models; edit the models' descriptions, not this file. -->",
        "",
        "Two places configure a run: **environment variables** (or a `.env` file in the",
        "folder you run from) for where things live and what they are called, and",
        f"**`{package}/parameters.json`** for how the model is trained, evaluated and",
        "registered. Both are validated strictly: an unknown variable in `.env` or an",
        "unknown key in parameters.json is an error that names it, never a silent default.",
        "",
        "## Environment variables",
        "",
        "Names are MLOpsPython's, matched case-insensitively; an existing MLOpsPython",
        "`.env` keeps working. Booleans accept `true`/`false`, `1`/`0`, `yes`/`no`.",
        "",
        *settings_table(settings),
        "",
        f"## `{package}/parameters.json`",
        "",
        "Every section and key, with the value shipped in the repository.",
        "",
        *parameters_sections(parameters, values),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_env_example(settings: type[BaseSettings]) -> str:
    """`.env.example`: every variable with its description; set to its default when it
    has one, commented out when it is unset by default."""
    lines = [
        "# Generated by `make docs` (python -m ml_service.project.config_reference) from the",
        "# settings models; edit the models' descriptions, not this file.",
        "# Copy to .env and edit. Every variable is optional; the values are the defaults.",
        "# Names follow Azure MLOpsPython, so an existing .env keeps working.",
    ]
    for name, field in settings.model_fields.items():
        lines += ["", f"# {field.description or ''}".rstrip()]
        if field.default is None:
            lines.append(f"# {name.upper()}=")
        else:
            lines.append(f"{name.upper()}={_env_value(field.default)}")
    return "\n".join(lines) + "\n"


def render_for(env: Env) -> str:
    """The reference of the settings and of the model package SOURCES_DIR_TRAIN names."""
    package = model_package(env)
    return render(Env, package.parameters_model, package.parameters_path, package.name)


def main(argv: list[str] | None = None) -> int:
    """Write the reference and `.env.example`, or with --check report whether either
    committed file is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Fail if a file is stale.")
    parser.add_argument("--output", type=Path, default=REFERENCE_PATH)
    parser.add_argument("--env-example", type=Path, default=ENV_EXAMPLE_PATH)
    args = parser.parse_args(argv)
    rendered = {args.output: render_for(load_env()), args.env_example: render_env_example(Env)}
    if args.check:
        stale = [
            path
            for path, text in rendered.items()
            if (path.read_text(encoding="utf-8") if path.exists() else "") != text
        ]
        for path in stale:
            log.error("%s is stale: run `make docs`", path)
        return 1 if stale else 0
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
