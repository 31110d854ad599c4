"""Request and response schemas of the service, as published in its OpenAPI document.

Responses are pydantic models; request bodies are JSON schemas built from the
served model's signature (its named features), because the routes read the raw
body themselves to parse it fast and strictly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from ml_service.models.payloads import MAX_ABS_VALUE


class ScoreResponse(BaseModel):
    """Azure ML's scoring answer: one prediction per input row."""

    result: list[float] = Field(description="The predictions, in the order of the rows.")


class InvocationsResponse(BaseModel):
    """MLflow's scoring-server answer."""

    predictions: list[float] = Field(description="The predictions, in the order of the rows.")


class ErrorResponse(BaseModel):
    """Every error: a code and a short message saying what is wrong (never the request body)."""

    error_code: str = Field(examples=["BAD_REQUEST"])
    message: str


class HealthResponse(BaseModel):
    """Liveness: the process answers."""

    status: str = Field(examples=["ok"])


class ReadyResponse(BaseModel):
    """Readiness: the model is loaded and requests are accepted."""

    status: str = Field(examples=["ready"])
    model_name: str
    model_version: str


def _value_schema(name: str) -> dict[str, Any]:
    return {"type": "number", "title": name, "minimum": -MAX_ABS_VALUE, "maximum": MAX_ABS_VALUE}


def _row_schema(features: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "array",
        # One named schema per position (JSON Schema 2020-12, as OpenAPI 3.1 uses).
        "prefixItems": [_value_schema(name) for name in features],
        "items": False,
        "minItems": len(features),
        "maxItems": len(features),
        "description": f"One row: the values of {', '.join(features)}, in this order.",
    }


def _rows_schema(features: Sequence[str], max_rows: int) -> dict[str, Any]:
    return {
        "type": "array",
        "items": _row_schema(features),
        "minItems": 1,
        "maxItems": max_rows,
    }


def _records_schema(features: Sequence[str], max_rows: int) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {name: _value_schema(name) for name in features},
            "required": list(features),
            "additionalProperties": False,
        },
        "minItems": 1,
        "maxItems": max_rows,
    }


def score_request_schema(
    features: Sequence[str], max_rows: int, example: list[list[float]] | None
) -> dict[str, Any]:
    """The JSON schema of Azure ML's body `{"data": [[...], ...]}` for these features."""
    schema: dict[str, Any] = {
        "title": "ScoreRequest",
        "type": "object",
        "properties": {"data": _rows_schema(features, max_rows)},
        "required": ["data"],
        "additionalProperties": False,
    }
    if example:
        schema["example"] = {"data": example}
    return schema


def invocations_request_schema(
    features: Sequence[str], max_rows: int, example: list[list[float]] | None
) -> dict[str, Any]:
    """The JSON schema of MLflow's request formats for these features."""
    split = {
        "type": "object",
        "properties": {
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {
                        "type": "array",
                        "items": {"type": "string", "enum": list(features)},
                        "minItems": len(features),
                        "maxItems": len(features),
                        "uniqueItems": True,
                    },
                    "data": _rows_schema(features, max_rows),
                    "index": {"description": "Row labels (pandas' split orient); ignored."},
                },
                # Without `columns` the values are in the order of the features.
                "required": ["data"],
                "additionalProperties": False,
            }
        },
        "required": ["dataframe_split"],
        "additionalProperties": False,
    }
    records = {
        "type": "object",
        "properties": {"dataframe_records": _records_schema(features, max_rows)},
        "required": ["dataframe_records"],
        "additionalProperties": False,
    }
    tensor = {
        "anyOf": [
            _rows_schema(features, max_rows),
            _records_schema(features, max_rows),
        ]
    }
    inputs, instances = (
        {
            "type": "object",
            "properties": {key: tensor},
            "required": [key],
            "additionalProperties": False,
        }
        for key in ("inputs", "instances")
    )
    schema: dict[str, Any] = {
        "title": "InvocationsRequest",
        "oneOf": [split, records, inputs, instances],
    }
    if example:
        schema["example"] = {"dataframe_split": {"columns": list(features), "data": example}}
    return schema
