"""The read API's OpenAPI 3.0 document, served at /v1/openapi.json and checked against the
running server by a property-based test (tests/test_api_schema.py)."""

from __future__ import annotations

from typing import Any, Final

_ERROR: Final = {"$ref": "#/components/schemas/Error"}


def _error_response(description: str, **headers: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR}},
    }
    if headers:
        response["headers"] = headers
    return response


def openapi_document() -> dict[str, Any]:
    etag = {"description": "strong validator of the body", "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ROMASHKA read API",
            "version": "1",
            "description": "The configuration of a bot profile version, for the live bot.",
        },
        "paths": {
            "/v1/profiles/{name}": {
                "get": {
                    "operationId": "getProfile",
                    "summary": "A profile version's configuration, by label or version",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 40},
                            "example": "Support",
                        },
                        {
                            "name": "label",
                            "in": "query",
                            "required": False,
                            "description": "exactly one of label and version",
                            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,29}$"},
                            "example": "production",
                        },
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647},
                            "example": 1,
                        },
                        {
                            "name": "If-None-Match",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the configuration",
                            "headers": {"ETag": etag},
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ProfileConfig"}
                                }
                            },
                        },
                        "304": {"description": "not modified", "headers": {"ETag": etag}},
                        "400": _error_response("neither or both of label and version, or bad"),
                        "401": _error_response("no token, or a malformed or revoked one"),
                        "404": _error_response("no such profile, label or version here"),
                        "429": _error_response(
                            "too many requests with this token",
                            **{"Retry-After": {"schema": {"type": "string"}}},
                        ),
                    },
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "the OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "additionalProperties": False,
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "additionalProperties": False,
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "ProfileConfig": _PROFILE_CONFIG,
            },
        },
    }


_LEVEL: Final = {"type": "integer", "minimum": 0, "maximum": 100}
_PROFILE_CONFIG: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "profile",
        "version",
        "label",
        "bot_name",
        "avatar_emoji",
        "model",
        "system_prompt",
        "sampling",
        "traits",
        "response_style",
        "knowledge",
    ],
    "properties": {
        "profile": {"type": "string"},
        "version": {"type": "integer", "minimum": 1},
        "label": {"type": "string", "nullable": True},
        "bot_name": {"type": "string"},
        "avatar_emoji": {"type": "string"},
        "model": {"type": "string"},
        "system_prompt": {"type": "string"},
        "sampling": {
            "type": "object",
            "additionalProperties": False,
            "required": ["temperature", "max_tokens", "presence_penalty"],
            "properties": {
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "max_tokens": {"type": "integer", "minimum": 1},
                "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            },
        },
        "traits": {
            "type": "object",
            "additionalProperties": False,
            "required": ["formality", "enthusiasm", "technical_depth", "empathy"],
            "properties": {
                "formality": _LEVEL,
                "enthusiasm": _LEVEL,
                "technical_depth": _LEVEL,
                "empathy": _LEVEL,
            },
        },
        "response_style": {"type": "string", "enum": ["concise", "conversational", "detailed"]},
        "knowledge": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "kind", "text", "question"],
                "properties": {
                    "id": {"type": "string"},
                    "kind": {
                        "type": "string",
                        "enum": ["company", "industry", "product", "policy", "faq"],
                    },
                    "text": {"type": "string"},
                    "question": {"type": "string", "nullable": True},
                },
            },
        },
    },
}
