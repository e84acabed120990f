"""The JSON Schema of mobyci.yaml, generated from the models (committed as schemas/mobyci.schema.json)."""

from __future__ import annotations

import json

from mobyci import SCHEMA_URL
from mobyci.specmodel.model import Spec


def schema_text() -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL,
        **Spec.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
