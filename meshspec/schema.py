"""The JSON Schema of spec documents, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from meshspec.spec import API_VERSION, Document


def document_schema() -> dict[str, Any]:
    schema = TypeAdapter(Document).json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://meshspec.io/schema/{API_VERSION.split('/')[1]}/document.json",
        "title": f"meshspec document ({API_VERSION})",
        **schema,
    }
