"""Flowize sandbox: the "Keystore" section of flowize-api.txt.

GET/POST/PUT/DELETE /v1/keystore/{keystore_id}/{keystore_key} and the search,
POST /v1/keystore/{keystore_id}. A keystore has no creation endpoint: the first write creates it,
and that first value fixes its type (JSON or RAW text) and the "empty structure" a GET of an unknown
key creates. Data is JSON (also when sent as XML, which is parsed to the same shape) or raw text
(``Content-Type: text/plain``); answers go out in JSON, XML or plain text as ``wire`` negotiates.
The ``where`` rule engine (``compile_where``) lives here, with the doc's first search; the Tables
search reuses it with its longer operator list.
Every choice the doc leaves open is listed in docs/flowize-decisions.md ("Keystore and Tables").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Blueprint, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.wire import FlowizeError, envelope, json_body, respond
from gateway.sandbox.state import SandboxDB, dumps, now_str

bp = Blueprint("flowize_keystore", __name__)

__all__ = ["COMPARISONS", "Predicate", "as_number", "bp", "compare", "compile_where", "seed", "text_of"]

DDL = """
CREATE TABLE IF NOT EXISTS fz_ks_keystores (
    customer_id INTEGER NOT NULL, keystore_id TEXT NOT NULL, kind TEXT NOT NULL, template TEXT NOT NULL,
    date_created TEXT NOT NULL, PRIMARY KEY (customer_id, keystore_id));
CREATE TABLE IF NOT EXISTS fz_ks_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL, keystore_id TEXT NOT NULL,
    key TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL, date_created TEXT NOT NULL,
    date_updated TEXT NOT NULL, UNIQUE (customer_id, keystore_id, key));
"""

# The search example's data (its all_info strings); madrid first, so a search lists it first as there.
_DEMO = [("madrid", {"temp": 24, "wind": "5 km/h N", "city": "Madrid"}),
         ("london", {"temp": 15, "wind": "2 km/h S", "city": "London"})]

_KEY_FIELDS = ("key", "keystore.key")
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$", re.ASCII)

Predicate = Callable[[Callable[[str], Any]], bool]


# -- where rules: the keystore search's, shared with tables (which adds its operators) --------------
def as_number(value: Any) -> float | None:
    """The number a value stands for (``45`` or ``"45"``), else None; booleans are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and not _NUMBER.match(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def text_of(value: Any) -> str:
    """A value as the text it is compared as ("" for null; callers test null first where it matters)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return dumps(value)


def compare(actual: Any, expected: Any) -> int | None:
    """-1/0/1; numeric when both sides are numbers, else text without case (MySQL's default collation).
    None when either side is null: like SQL, a comparison with NULL is never true."""
    if actual is None or expected is None:
        return None
    a, b = as_number(actual), as_number(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = text_of(actual).casefold(), text_of(expected).casefold()
    return (x > y) - (x < y)


def _comparison(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def evaluate(actual: Any, expected: Any) -> bool:
        c = compare(actual, expected)
        return c is not None and test(c)
    return evaluate


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _comparison(lambda c: c == 0), "!=": _comparison(lambda c: c != 0),
    "<>": _comparison(lambda c: c != 0), "<": _comparison(lambda c: c < 0),
    ">": _comparison(lambda c: c > 0), "<=": _comparison(lambda c: c <= 0),
    ">=": _comparison(lambda c: c >= 0),
}


def _rule_value(op: str, rule: dict, where: str) -> Any:
    value = rule.get("value")
    if op in ("is_empty", "is_not_empty"):
        return None
    if "value" not in rule:
        raise FlowizeError(400, f"{where}.value is required for the operator {op}.")
    if op in ("between", "not_between"):
        if not (isinstance(value, list) and len(value) == 2):
            raise FlowizeError(400, f"{where}.value must be an array of two values for {op}, like [18, 55].")
    elif op in ("in", "not_in"):
        if isinstance(value, str):  # "a,b,c", as the query builder these operators come from also sends
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list) or not value:
            raise FlowizeError(400, f"{where}.value must be a non-empty array for {op}.")
    elif isinstance(value, (dict, list)):
        raise FlowizeError(400, f"{where}.value must be a single value for the operator {op}.")
    return value


def _rule_test(field: str, evaluate: Callable[[Any, Any], bool], value: Any) -> Predicate:
    return lambda get: evaluate(get(field), value)


def compile_where(where: Any, operators: dict[str, Callable[[Any, Any], bool]],
                  check_field: Callable[[str], None] | None = None, path: str = "where") -> Predicate:
    """Validate a ``{condition, rules[]}`` object once and return a test over a field getter.

    A rule holding ``rules`` of its own is a nested group (the query builder these payloads come
    from nests them); no rules at all matches everything."""
    if where is None:
        return lambda get: True
    if not isinstance(where, dict):
        raise FlowizeError(400, f"{path} must be an object with condition and rules.")
    condition = where.get("condition") or "AND"
    if not isinstance(condition, str) or condition.strip().upper() not in ("AND", "OR"):
        raise FlowizeError(400, f"{path}.condition must be AND or OR, not {condition!r}.")
    rules = where.get("rules") or []
    if isinstance(rules, dict):  # a single rule sent as XML, without type="array"
        rules = [rules]
    if not isinstance(rules, list):
        raise FlowizeError(400, f"{path}.rules must be an array.")
    tests: list[Predicate] = []
    for i, rule in enumerate(rules):
        here = f"{path}.rules[{i}]"
        if not isinstance(rule, dict):
            raise FlowizeError(400, f"{here} must be an object with field, operator and value.")
        if "rules" in rule:
            tests.append(compile_where(rule, operators, check_field, here))
            continue
        field, op = rule.get("field"), rule.get("operator")
        if not isinstance(field, str) or not field.strip():
            raise FlowizeError(400, f"{here}.field is required.")
        if not isinstance(op, str) or not op.strip():
            raise FlowizeError(400, f"{here}.operator is required.")
        evaluate = operators.get(op.strip().lower())
        if evaluate is None:
            raise FlowizeError(400, f"{here}.operator {op!r} is not supported; use one of: {', '.join(operators)}.")
        if check_field:
            check_field(field)
        value = _rule_value(op.strip().lower(), rule, here)
        tests.append(_rule_test(field, evaluate, value))
    if not tests:
        return lambda get: True
    combine = all if condition.strip().upper() == "AND" else any
    return lambda get: combine(test(get) for test in tests)


def _like(actual: Any, pattern: Any) -> bool:
    """SQL LIKE without case; only ``%`` is a wildcard (the doc names no other)."""
    if actual is None or pattern is None:
        return False
    regex = "".join(".*" if part == "%" else re.escape(part) for part in re.split(r"(%)", text_of(pattern)))
    return re.fullmatch(regex, text_of(actual), re.IGNORECASE | re.DOTALL) is not None


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {**COMPARISONS, "like": _like}


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fz_ks_keystores LIMIT 1"):
        return
    now = now_str()
    with db.transaction() as conn:
        conn.execute("INSERT INTO fz_ks_keystores VALUES (1, 'weather', 'json', ?, ?)",
                     (dumps(_emptied(_DEMO[0][1])), now))
        for key, data in _DEMO:
            conn.execute("INSERT INTO fz_ks_entries (customer_id, keystore_id, key, kind, data, date_created, "
                         "date_updated) VALUES (1, 'weather', ?, 'json', ?, ?, ?)", (key, dumps(data), now, now))


def _emptied(value: Any) -> Any:
    """The "empty structure" of a value: same object keys, every leaf "" and every array []."""
    if isinstance(value, dict):
        return {k: _emptied(v) for k, v in value.items()}
    return [] if isinstance(value, list) else ""


def _php_json(value: Any) -> str:
    """JSON the way the vendor's PHP writes it (compact, ``\\/`` for ``/``), as in the doc's all_info."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


# -- storage -------------------------------------------------------------------------------------
def _customer() -> int:
    return authenticate(require_app=False).customer_id


def _keystore(db: SandboxDB, customer: int, keystore_id: str):
    ks = db.one("SELECT * FROM fz_ks_keystores WHERE customer_id = ? AND keystore_id = ?", (customer, keystore_id))
    if ks is None:
        raise FlowizeError(404, f"The keystore {keystore_id} does not exist.")
    return ks


def _entry(db: SandboxDB, customer: int, keystore_id: str, key: str):
    return db.one("SELECT * FROM fz_ks_entries WHERE customer_id = ? AND keystore_id = ? AND key = ?",
                  (customer, keystore_id, key))


def _value(entry) -> Any:
    return json.loads(entry["data"]) if entry["kind"] == "json" else entry["data"]


def _payload() -> tuple[str, str]:
    """(kind, stored text) of the request body: raw text for text/*, else JSON (or XML parsed to JSON)."""
    if (request.content_type or "").lower().startswith("text/"):
        try:
            return "raw", request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            raise FlowizeError(400, "The raw keystore data must be UTF-8 text.") from None
    try:
        return "json", dumps(json_body())
    except FlowizeError as err:
        raise FlowizeError(400, f"{err.message} Send Content-Type: text/plain to store raw text.") from None


def _write(customer: int, keystore_id: str, key: str, *, replace: bool):
    kind, data = _payload()
    db, now = sandbox().db, now_str()
    with db.transaction():
        if db.one("SELECT 1 FROM fz_ks_keystores WHERE customer_id = ? AND keystore_id = ?",
                  (customer, keystore_id)) is None:
            template = dumps(_emptied(json.loads(data))) if kind == "json" else ""
            db.execute("INSERT INTO fz_ks_keystores VALUES (?, ?, ?, ?, ?)",
                       (customer, keystore_id, kind, template, now))  # the first write creates the keystore
        if _entry(db, customer, keystore_id, key) is not None:
            if not replace:
                raise FlowizeError(409, f"The key {key} already exists in keystore {keystore_id}.")
            db.execute("UPDATE fz_ks_entries SET kind = ?, data = ?, date_updated = ? "
                       "WHERE customer_id = ? AND keystore_id = ? AND key = ?",
                       (kind, data, now, customer, keystore_id, key))
        else:
            db.execute("INSERT INTO fz_ks_entries (customer_id, keystore_id, key, kind, data, date_created, "
                       "date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)", (customer, keystore_id, key, kind, data, now, now))
        entry = _entry(db, customer, keystore_id, key)
    return respond(_value(entry))


# -- endpoints -----------------------------------------------------------------------------------
@bp.get("/v1/keystore/<keystore_id>/<keystore_key>")
def get_key(keystore_id: str, keystore_key: str):
    customer, db = _customer(), sandbox().db
    with db.transaction():
        ks = _keystore(db, customer, keystore_id)
        entry = _entry(db, customer, keystore_id, keystore_key)
        if entry is None:  # "it will be created with the empty structure defined for that keystore_id"
            now = now_str()
            db.execute("INSERT INTO fz_ks_entries (customer_id, keystore_id, key, kind, data, date_created, "
                       "date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (customer, keystore_id, keystore_key, ks["kind"], ks["template"], now, now))
            entry = _entry(db, customer, keystore_id, keystore_key)
    return respond(_value(entry))


@bp.post("/v1/keystore/<keystore_id>/<keystore_key>")
def insert_key(keystore_id: str, keystore_key: str):
    return _write(_customer(), keystore_id, keystore_key, replace=False)


@bp.put("/v1/keystore/<keystore_id>/<keystore_key>")
def upsert_key(keystore_id: str, keystore_key: str):
    return _write(_customer(), keystore_id, keystore_key, replace=True)


@bp.delete("/v1/keystore/<keystore_id>/<keystore_key>")
def delete_key(keystore_id: str, keystore_key: str):
    customer, db = _customer(), sandbox().db
    with db.transaction():
        _keystore(db, customer, keystore_id)
        deleted = db.execute("DELETE FROM fz_ks_entries WHERE customer_id = ? AND keystore_id = ? AND key = ?",
                             (customer, keystore_id, keystore_key)).rowcount
        if not deleted:
            raise FlowizeError(404, f"The key {keystore_key} does not exist in keystore {keystore_id}.")
    return respond(envelope(None, f"Successfully deleted key {keystore_key} in keystore {keystore_id}"))


# -- search --------------------------------------------------------------------------------------
def _path(value: Any, path: str) -> Any:
    """A dotted JSON path (``temp.max``, ``days.0``) into a value; None where it leads nowhere."""
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _getter(entry, field: str) -> Any:
    """What a select/where field names in one entry: the key, the whole data as saved, or a JSON path."""
    if field.strip().lower() in _KEY_FIELDS:
        return entry["key"]
    if field.strip() == "*":
        return _php_json(_value(entry)) if entry["kind"] == "json" else entry["data"]
    return _path(_value(entry), field.strip()) if entry["kind"] == "json" else None


def _selected(value: Any) -> Any:
    """Selected values come back as text, as in the doc ("temperature": "24" from "temp":24)."""
    if value is None:
        return None
    return _php_json(value) if isinstance(value, (dict, list)) else text_of(value)


def _columns(select: Any) -> list[tuple[str, str]]:
    if select is None:
        return [("key", "key"), ("*", "*")]
    if not isinstance(select, list) or not select:
        raise FlowizeError(400, "select must be a non-empty array of {field, alias}.")
    columns = []
    for i, item in enumerate(select):
        if not isinstance(item, dict) or not isinstance(item.get("field"), str) or not item["field"].strip():
            raise FlowizeError(400, f"select[{i}].field is required.")
        alias = item.get("alias") or item["field"]
        if not isinstance(alias, str):
            raise FlowizeError(400, f"select[{i}].alias must be a string.")
        columns.append((item["field"], alias))
    return columns


@bp.post("/v1/keystore/<keystore_id>")
def search(keystore_id: str):
    customer, db = _customer(), sandbox().db
    body = json_body(required=False)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise FlowizeError(400, "The search body must be a JSON object with select and where.")
    columns = _columns(body.get("select"))
    test = compile_where(body.get("where"), _OPERATORS)
    _keystore(db, customer, keystore_id)
    entries = db.all("SELECT * FROM fz_ks_entries WHERE customer_id = ? AND keystore_id = ? ORDER BY seq",
                     (customer, keystore_id))
    result = []
    for entry in entries:
        if test(partial(_getter, entry)):
            result.append({alias: _selected(_getter(entry, field)) for field, alias in columns})
    return respond(result)
