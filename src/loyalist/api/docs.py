"""``/docs``: the OpenAPI schema as one self-contained HTML page (no script, no asset from a
CDN, so it works offline, unlike FastAPI's Swagger UI page)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;color:#fff;border-radius:4px;
text-align:center;margin-right:.6em}.get{background:#2b7bb9}.post{background:#3a9a4a}
code,pre{background:#f5f5f5;border-radius:4px;padding:.1em .3em}pre{padding:.6em;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}
.lock{color:#a60}"""


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(escape(json.dumps(v)) for v in schema["enum"])
    return escape(str(schema.get("type", "any")))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    lock = ' <span class="lock">(API key)</span>' if op.get("security") else ""
    out = [f'<div class="op"><span class="m {method}">{method.upper()}</span>'
           f"<code>{escape(path)}</code>{lock}<p>{escape(op.get('description') or '')}</p>"]
    params = op.get("parameters", [])
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>")
        out += [f"<tr><td>{escape(p['name'])}</td><td>{escape(p['in'])}</td>"
                f"<td>{_schema_name(p.get('schema', {}))}</td>"
                f"<td>{'yes' if p.get('required') else ''}</td></tr>" for p in params]
        out.append("</table>")
    body = op.get("requestBody", {}).get("content", {})
    for media, spec in body.items():
        out.append(f"<p>body ({escape(media)}): {_schema_name(spec.get('schema', {}))}</p>")
    codes = ", ".join(f"{escape(c)} {escape(r.get('description', ''))}"
                      for c, r in op.get("responses", {}).items())
    out.append(f"<p>responses: {codes}</p></div>")
    return "".join(out)


def render(openapi: dict[str, Any]) -> str:
    info = openapi.get("info", {})
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>"
             f"{escape(info.get('title', 'API'))}</title><style>{CSS}</style></head><body>",
             f"<h1>{escape(info.get('title', ''))} {escape(info.get('version', ''))}</h1>",
             f"<p>{escape(info.get('description', ''))}</p>",
             '<p>Machine-readable: <a href="openapi.json">openapi.json</a></p><h2>Endpoints</h2>']
    for path, item in openapi.get("paths", {}).items():
        parts += [_operation(path, m, op) for m, op in item.items()]
    parts.append("<h2>Schemas</h2>")
    for name, schema in openapi.get("components", {}).get("schemas", {}).items():
        parts.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>'
                     f"<pre>{escape(json.dumps(schema, indent=2))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
