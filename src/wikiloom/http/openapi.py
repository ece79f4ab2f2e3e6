"""OpenAPI descriptions of what handlers read by hand: presence flags, form bodies, errors.

Wiki labels' handlers read their flags (`?tasks`, `?worksets=stats`) and form fields
(`label=<json>`) from the raw request, so FastAPI cannot see them; `openapi_extra` built here
puts them in `/openapi.json`. Every flag is a string: its presence counts, and the value
`stats` (where named) adds statistics.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """What went wrong: Wiki labels' code (`not found`, `conflict`, ...) and message."""

    code: str
    message: str


class ErrorEnvelope(BaseModel):
    """The Wiki labels (and ORES) error envelope."""

    error: ErrorDetail


def flag(name: str, description: str) -> dict[str, Any]:
    """An optional query parameter read by presence (`?name`, `?name=`, `?name=stats`)."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


def text_param(name: str, description: str, **schema: Any) -> dict[str, Any]:
    """An optional query parameter with a value."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", **schema},
        "description": description,
    }


CALLBACK = text_param(
    "callback",
    "JSONP: answer `callback({...});` with status 200; an error's status is then in the body "
    "as `http_status`. The name must be a JavaScript identifier path of at most 64 characters.",
)


def form_body(
    fields: dict[str, str],
    required: tuple[str, ...] = (),
    integers: tuple[str, ...] = (),
    limits: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A form-encoded request body of text fields (name → description), some integers,
    with JSON Schema `limits` per field (`maxLength`, `minimum`, ...)."""
    properties = {
        name: {
            "type": "integer" if name in integers else "string",
            "description": description,
            **(limits or {}).get(name, {}),
        }
        for name, description in fields.items()
    }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {
        "required": bool(required),
        "content": {"application/x-www-form-urlencoded": {"schema": schema}},
    }


def extra(
    *parameters: dict[str, Any], body: dict[str, Any] | None = None, jsonp: bool = True
) -> dict[str, Any]:
    """`openapi_extra` for a route: its query parameters (and `callback`) and form body."""
    documented: dict[str, Any] = {"parameters": [*parameters, *([CALLBACK] if jsonp else [])]}
    if body is not None:
        documented["requestBody"] = body
    return documented


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


#: The errors any route may answer, in the envelope.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed input: a form field or a label that does not fit the form."),
    403: _error("Not logged in, not allowed, or a cross-site write."),
    404: _error("No such campaign, workset, task, form or path (ids are numbers)."),
    409: _error("The state does not allow it (an open workset, nothing left to assign)."),
    503: _error("The database, a wiki or a setting this needs is unavailable."),
}
#: The answers every JSON route may give besides its own: JSONP, and errors.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer (JSON), or with `?callback=` a JSONP script (also errors).",
        "content": {"application/javascript": {"schema": {"type": "string"}}},
    },
    **ERRORS,
}

STATS = "; `stats` adds statistics"
