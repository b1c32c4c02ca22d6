"""The API reference as one HTML page, rendered from `openapi.json` on the server: every route
grouped by tag, with its authentication, parameters, request body and responses, and every schema
with its fields. No script at all, one stylesheet whose hash the Content-Security-Policy names,
and every string from the document escaped, so the page is safe to serve beside the API."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 3  # nested objects shown inline this deep; deeper ones link to their schema

STYLE = """
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;background:#f7f8fa}
nav{position:fixed;top:0;bottom:0;left:0;width:300px;overflow:auto;background:#1d2330;color:#d7dbe3;
padding:20px 16px;box-sizing:border-box;font-size:13px}
nav a{color:#d7dbe3;text-decoration:none;display:block;padding:1px 0 1px 1em;text-indent:-1em;
overflow-wrap:anywhere}
nav a:hover{color:#fff}
nav h2{font-size:12px;text-transform:uppercase;letter-spacing:.08em;color:#8e97a8;margin:18px 0 6px}
main{margin-left:300px;padding:28px 40px;max-width:1000px}
h1{margin:0 0 4px;font-size:26px}
section.op{background:#fff;border:1px solid #e1e4ea;border-radius:6px;margin:14px 0;padding:14px 18px}
.op h3{margin:0;font-size:16px;font-family:ui-monospace,Menlo,monospace;word-break:break-all}
.m{display:inline-block;min-width:58px;text-align:center;border-radius:4px;color:#fff;font-size:12px;
padding:2px 6px;margin-right:8px;font-family:system-ui,sans-serif;text-transform:uppercase}
.get{background:#2f7d4f}.post{background:#2a62b8}.put{background:#a26a12}.patch{background:#7a4bb0}
.delete{background:#b23b3b}
.auth{color:#5b6476;font-size:13px}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;border-bottom:1px solid #eceef2;padding:4px 8px;vertical-align:top}
th{color:#5b6476;font-weight:600}
code{font-family:ui-monospace,Menlo,monospace;font-size:12.5px;background:#f0f2f5;padding:0 3px;
border-radius:3px}
.req{color:#b23b3b;font-size:11px}
h4{margin:10px 0 2px;font-size:13px;color:#5b6476;text-transform:uppercase;letter-spacing:.05em}
td table{margin:2px 0}
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _anchor(*parts: str) -> str:
    text = "-".join(parts)
    return "".join(char if char.isalnum() else "-" for char in text).strip("-").lower()


class _Schemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self.named: dict[str, Any] = document.get("components", {}).get("schemas", {})

    @staticmethod
    def ref_name(schema: dict[str, Any]) -> str | None:
        ref = schema.get("$ref")
        return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None

    def type_of(self, schema: Any) -> str:
        """A short HTML description of a schema's type, linking named schemas."""
        if not isinstance(schema, dict):
            return "any"
        name = self.ref_name(schema)
        if name:
            return f'<a href="#schema-{_anchor(name)}">{_e(name)}</a>'
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in schema:
                joiner = " and " if combinator == "allOf" else " or "
                return joiner.join(self.type_of(option) for option in schema[combinator])
        kind = schema.get("type", "object" if "properties" in schema else "any")
        if isinstance(kind, list):
            kind = " or ".join(str(k) for k in kind)
        if kind == "array":
            return f"array of {self.type_of(schema.get('items', {}))}"
        text = _e(kind)
        if "enum" in schema:
            text += ": " + ", ".join(f"<code>{_e(json.dumps(value))}</code>" for value in schema["enum"])
        if "const" in schema:
            text += f" <code>{_e(json.dumps(schema['const']))}</code>"
        return text

    @staticmethod
    def constraints(schema: dict[str, Any]) -> str:
        shown = []
        for key in (
            "format",
            "pattern",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "default",
        ):
            if key in schema:
                shown.append(f"{key} <code>{_e(json.dumps(schema[key]))}</code>")
        return "; ".join(shown)

    def fields(self, schema: dict[str, Any], depth: int = 0) -> str:
        """A table of an object's properties; nested inline objects to MAX_DEPTH."""
        properties = schema.get("properties") or {}
        if not properties:
            return ""
        required = set(schema.get("required") or [])
        rows = []
        for name, field in properties.items():
            field = field if isinstance(field, dict) else {}
            nested = ""
            if field.get("type") == "object" and field.get("properties") and depth < MAX_DEPTH:
                nested = self.fields(field, depth + 1)
            notes = " ".join(
                part for part in (_e(field.get("description", "")), self.constraints(field), nested) if part
            )
            flag = ' <span class="req">required</span>' if name in required else ""
            rows.append(
                f"<tr><td><code>{_e(name)}</code>{flag}</td><td>{self.type_of(field)}</td><td>{notes}</td></tr>"
            )
        return "<table><tr><th>field</th><th>type</th><th>notes</th></tr>" + "".join(rows) + "</table>"


def _operation(path: str, method: str, operation: dict[str, Any], schemas: _Schemas) -> str:
    anchor = _anchor(method, path)
    parts = [
        f'<section class="op" id="{anchor}"><h3><span class="m {method}">{method}</span>{_e(path)}</h3>',
        f"<p>{_e(operation.get('summary', ''))}</p>",
    ]
    if operation.get("description"):
        parts.append(f"<p>{_e(operation['description'])}</p>")
    security = [name for requirement in operation.get("security", []) for name in requirement]
    auth = {"adminKey": "admin key (Bearer)", "writeKey": "source write key (HTTP Basic username)"}
    parts.append(
        '<p class="auth">Authentication: '
        + (
            ", or ".join(_e(auth.get(name, name)) for name in security)
            if security
            else "none, or the channel's signature"
        )
        + "</p>"
    )
    parameters = operation.get("parameters") or []
    if parameters:
        rows = "".join(
            f"<tr><td><code>{_e(p.get('name'))}</code>"
            + (' <span class="req">required</span>' if p.get("required") else "")
            + f"</td><td>{_e(p.get('in'))}</td><td>{schemas.type_of(p.get('schema', {}))}</td>"
            f"<td>{_e(p.get('description', ''))}</td></tr>"
            for p in parameters
            if isinstance(p, dict)
        )
        parts.append(
            "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>notes</th></tr>"
            + rows
            + "</table>"
        )
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        schema = content.get("schema", {})
        parts.append(f"<h4>Request body</h4><p><code>{_e(media)}</code>: {schemas.type_of(schema)}</p>")
        if isinstance(schema, dict) and not schemas.ref_name(schema):
            parts.append(schemas.fields(schema))
    responses = operation.get("responses") or {}
    rows = "".join(
        f"<tr><td><code>{_e(status)}</code></td><td>{_e(response.get('description', ''))}</td><td>"
        + ", ".join(
            schemas.type_of(content.get("schema", {})) for content in (response.get("content") or {}).values()
        )
        + "</td></tr>"
        for status, response in responses.items()
        if isinstance(response, dict)
    )
    parts.append(
        "<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>body</th></tr>" + rows + "</table>"
    )
    parts.append("</section>")
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    """The whole page for one OpenAPI 3 document."""
    schemas = _Schemas(document)
    info = document.get("info", {})
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                tag = (operation.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, operation))
    nav, body = [], []
    for tag in sorted(by_tag):
        nav.append(f'<h2><a href="#tag-{_anchor(tag)}">{_e(tag)}</a></h2>')
        body.append(f'<h2 id="tag-{_anchor(tag)}">{_e(tag)}</h2>')
        for path, method, operation in by_tag[tag]:
            nav.append(f'<a href="#{_anchor(method, path)}">{_e(method.upper())} {_e(path)}</a>')
            body.append(_operation(path, method, operation, schemas))
    nav.append('<h2><a href="#schemas">schemas</a></h2>')
    body.append('<h2 id="schemas">Schemas</h2>')
    for name in sorted(schemas.named):
        schema = schemas.named[name]
        nav.append(f'<a href="#schema-{_anchor(name)}">{_e(name)}</a>')
        description = _e(schema.get("description", "")) if isinstance(schema, dict) else ""
        table = schemas.fields(schema) if isinstance(schema, dict) else ""
        if isinstance(schema, dict) and not table:
            table = f"<p>{schemas.type_of(schema)}</p>"
        body.append(
            f'<section class="op" id="schema-{_anchor(name)}">'
            f"<h3>{_e(name)}</h3><p>{description}</p>{table}</section>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(info.get('title', 'API'))} API reference</title><style>{STYLE}</style></head><body>"
        f"<nav><strong>{_e(info.get('title', 'API'))} API</strong>{''.join(nav)}</nav>"
        f"<main><h1>{_e(info.get('title', 'API'))} API reference</h1>"
        f"<p>{_e(info.get('description', ''))} Version {_e(info.get('version', ''))}. "
        'The machine-readable contract is <a href="openapi.json">openapi.json</a>.</p>'
        f"{''.join(body)}</main></body></html>"
    )
