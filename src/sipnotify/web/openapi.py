"""The OpenAPI 3.1 description of the JSON API, served at `<prefix>/api/v1/openapi.json` and
checked against the running API by the integration tests (every response they get must
match its schema here)."""

from __future__ import annotations

from typing import Any

from sipnotify import __version__

Json = dict[str, Any]


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: str, status: str = "200", text: str = "OK") -> Json:
    return {status: {"description": text,
                     "content": {"application/json": {"schema": _ref(schema)}}}}  # fmt: skip


def _errors(*codes: str) -> Json:
    texts = {"400": "Bad input (the message names the field)", "401": "Not signed in",
             "403": "Not allowed (permission class or CSRF token)", "404": "Not found",
             "405": "Wrong method", "409": "Not in a state for that", "413": "Body too large",
             "415": "Not JSON", "503": "The store failed"}  # fmt: skip
    return {code: {"description": texts[code],
                   "content": {"application/json": {"schema": _ref("Error")}}}
            for code in codes}  # fmt: skip


def _body(schema: str) -> Json:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}
_VARIABLES = {
    "oneOf": [
        {"type": "object", "additionalProperties": _STR},
        {
            "type": "array",
            "items": {"type": "array", "items": _STR, "minItems": 2, "maxItems": 2},
        },
    ]
}
_CHANGE = {**_errors("400", "401", "403", "415")}

SCHEMAS: Json = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": _STR}},
    "Credentials": {"type": "object", "required": ["username", "secret"],
                    "additionalProperties": False,
                    "properties": {"username": _STR, "secret": _STR}},
    "Session": {"type": "object", "required": ["username", "read", "write", "csrf"],
                "properties": {"username": _STR, "read": _STR, "write": _STR, "csrf": _STR,
                               "may_act": _BOOL, "may_watch": _BOOL}},
    "SignedOut": {"type": "object", "properties": {"signed_out": _BOOL}},
    "Contact": {
        "type": "object",
        "required": ["aor", "uri", "static", "status", "rtt_ms", "user_agent"],
        "properties": {
            "endpoint": _STR, "aor": _STR, "uri": _STR, "static": _BOOL, "status": _STR,
            "rtt_ms": {"type": ["number", "null"]}, "user_agent": _STR,
            "expires_at": {"type": ["integer", "null"]}, "via": _STR, "transport": _STR,
        },
    },
    "Endpoint": {
        "type": "object", "required": ["name", "aors", "contacts", "registered"],
        "properties": {"name": _STR, "aors": _STRS, "transport": _STR, "registered": _BOOL,
                       "contacts": {"type": "array", "items": _ref("Contact")}},
    },
    "Endpoints": {"type": "object", "required": ["endpoints"],
                  "properties": {"endpoints": {"type": "array", "items": _ref("Endpoint")}}},
    "Contacts": {"type": "object", "required": ["contacts"],
                 "properties": {"contacts": {"type": "array", "items": _ref("Contact")}}},
    "NotifyRequest": {
        "type": "object", "additionalProperties": False,
        "description": "Exactly one of endpoint, uri, channel; option or variables (as "
                       "PJSIPNotify's Option and Variable).",
        "properties": {"endpoint": _STR, "uri": _STR, "channel": _STR, "option": _STR,
                       "variables": _VARIABLES},
    },
    "NotifyResult": {
        "type": "object", "required": ["uri", "result", "status", "ok"],
        "properties": {"endpoint": _STR, "uri": _STR,
                       "result": {"enum": ["Success", "Failure", "Timeout", "TransportError"]},
                       "status": {"type": ["integer", "null"]}, "reason": _STR, "error": _STR,
                       "rtt_ms": {"type": ["number", "null"]}, "ok": _BOOL},
    },
    "NotifyResponse": {
        "type": "object", "required": ["message", "results", "succeeded", "failed"],
        "properties": {"message": _STR, "succeeded": _INT, "failed": _INT,
                       "results": {"type": "array", "items": _ref("NotifyResult")}},
    },
    "JobRequest": {
        "type": "object", "additionalProperties": False,
        "description": "What (one of verb, option, mwi `new/old`, variables), whom (all, "
                       "endpoints, match, regex, user_agent, aors, registration) and how "
                       "(rate, in_flight, per_address, jitter, start_at, deadline), as "
                       "FleetNotify takes them; confirm for a reboot of many phones; "
                       "dry_run to look first.",
        "properties": {
            "verb": {"enum": ["resync", "reboot"]}, "option": _STR, "mwi": _STR,
            "variables": _VARIABLES, "all": _BOOL, "endpoints": _STRS, "match": _STR,
            "regex": _STR, "user_agent": _STR, "aors": _STRS,
            "registration": {"enum": ["registered", "static", "any"]},
            "rate": {"oneOf": [_NUM, {"const": "unlimited"}]}, "in_flight": _INT,
            "per_address": _INT, "jitter": _NUM, "start_at": _NUM, "deadline": _NUM,
            "confirm": _BOOL, "dry_run": _BOOL,
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "order", "selection", "state", "total", "counts", "pace"],
        "properties": {
            "id": _STR, "order": _STR, "selection": _STR,
            "state": {"enum": ["scheduled", "running", "paused", "cancelled", "done"]},
            "created_at": _NUM, "start_at": _NUM, "deadline": _NUM, "total": _INT,
            "counts": {"type": "object", "additionalProperties": _INT},
            "pace": {"type": "object", "properties": {
                "rate": {"type": ["number", "null"]}, "in_flight": _INT,
                "per_address": _INT, "jitter": _NUM}},
        },
    },
    "Phone": {
        "type": "object", "required": ["job", "uri", "state", "attempts"],
        "properties": {"job": _STR, "endpoint": _STR, "uri": _STR, "aor": _STR,
                       "state": {"enum": ["pending", "sent", "retrying", "answered", "failed",
                                          "confirmed", "ignored"]},
                       "status": {"type": ["integer", "null"]}, "attempts": _INT,
                       "updated_at": _NUM, "user_agent_before": _STR,
                       "user_agent_after": _STR},
    },
    "JobCreated": {"type": "object", "required": ["job"], "properties": {"job": _ref("Job")}},
    "DryRun": {
        "type": "object", "required": ["dry_run", "phones"],
        "properties": {"dry_run": {"const": True}, "phones": {"type": "array", "items": {
            "type": "object", "properties": {"endpoint": _STR, "uri": _STR, "aor": _STR,
                                             "user_agent": _STR, "vendor": _STR,
                                             "request": _STR}}}},
    },
    "Jobs": {"type": "object", "required": ["jobs"],
             "properties": {"jobs": {"type": "array", "items": _ref("Job")}}},
    "JobDetail": {"type": "object", "required": ["job", "phones"],
                  "properties": {"job": _ref("Job"),
                                 "phones": {"type": "array", "items": _ref("Phone")}}},
    "Presets": {"type": "object", "required": ["presets"], "properties": {"presets": {
        "type": "array", "items": {"type": "object", "properties": {
            "name": _STR, "items": {"type": "array", "items": _STRS}}}}}},
    "Vendors": {"type": "object", "required": ["vendors"], "properties": {"vendors": {
        "type": "array", "items": {"type": "object", "properties": {
            "name": _STR, "user_agents": _STRS,
            "verbs": {"type": "object", "additionalProperties": {
                "type": "array", "items": _STRS}}}}}}},
}  # fmt: skip

PATHS: Json = {
    "/api/v1/session": {
        "get": {"summary": "Who is signed in", "responses": {**_ok("Session"),
                                                             **_errors("401")}},
        "post": {"summary": "Sign in with a manager.conf user; sets the session cookie",
                 "security": [], "requestBody": _body("Credentials"),
                 "responses": {**_ok("Session"), **_errors("400", "401")}},
        "delete": {"summary": "Sign out (needs X-CSRF-Token)",
                   "responses": {**_ok("SignedOut"), **_CHANGE}},
    },
    "/api/v1/endpoints": {"get": {
        "summary": "Endpoints with their contacts, status, User-Agent and round-trip time",
        "parameters": [
            {"name": "search", "in": "query", "schema": _STR,
             "description": "part of a name, AOR, contact URI or User-Agent"},
            {"name": "status", "in": "query", "schema": _STR,
             "description": "registered, unregistered, or a contact status"}],
        "responses": {**_ok("Endpoints"), **_errors("401")}}},
    "/api/v1/contacts": {"get": {"summary": "Every contact",
                                 "responses": {**_ok("Contacts"), **_errors("401")}}},
    "/api/v1/notify": {"post": {
        "summary": "Send a NOTIFY (PJSIPNotify) and wait for every phone's answer",
        "requestBody": _body("NotifyRequest"),
        "responses": {**_ok("NotifyResponse"), **_CHANGE, **_errors("404")}}},
    "/api/v1/jobs": {
        "get": {"summary": "Fleet jobs", "responses": {**_ok("Jobs"), **_errors("401")}},
        "post": {"summary": "Start a fleet job (FleetNotify), or show it as a dry run",
                 "requestBody": _body("JobRequest"),
                 "responses": {**_ok("DryRun"), **_ok("JobCreated", "201", "Started"),
                               **_CHANGE}},
    },
    "/api/v1/jobs/{id}": {"get": {
        "summary": "A job and its phones",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STR}],
        "responses": {**_ok("JobDetail"), **_errors("401", "404")}}},
    **{f"/api/v1/jobs/{{id}}/{verb}": {"post": {
        "summary": f"{verb.capitalize()} a job",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STR}],
        "responses": {**_ok("JobCreated"), **_CHANGE, **_errors("404", "409")}}}
        for verb in ("cancel", "pause", "resume")},
    "/api/v1/events": {"get": {
        "summary": "Live fleet progress as Server-Sent Events (`phone` and `job` events, "
                   "data as Phone and Job); needs the system read class",
        "parameters": [{"name": "job", "in": "query", "schema": _STR}],
        "responses": {"200": {"description": "An event stream",
                              "content": {"text/event-stream": {"schema": _STR}}},
                      **_errors("401", "403")}}},
    "/api/v1/presets": {"get": {"summary": "pjsip_notify.conf's presets",
                                "responses": {**_ok("Presets"), **_errors("401")}}},
    "/api/v1/vendors": {"get": {"summary": "The vendor catalogue",
                                "responses": {**_ok("Vendors"), **_errors("401")}}},
    "/api/v1/openapi.json": {"get": {"summary": "This description", "security": [],
                                     "responses": {"200": {"description": "OpenAPI"}}}},
}  # fmt: skip

SPEC: Json = {
    "openapi": "3.1.0",
    "info": {"title": "sipnotify", "version": __version__,
             "description": "Tell SIP phones to do something. Sign in with a manager.conf "
                            "user (session cookie, then X-CSRF-Token on changes) or send "
                            "HTTP Basic credentials; changes are JSON and need the system "
                            "write class."},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "session": {"type": "apiKey", "in": "cookie", "name": "sipnotify_session"},
        },
    },
    "security": [{"basic": []}, {"session": []}],
}  # fmt: skip
