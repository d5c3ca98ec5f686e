"""Flowize sandbox: the "Tables" section of flowize-api.txt.

GET/DELETE /v1/tables/{table_name}/{id}, POST /v1/tables/{table_name}/search, inserts on
POST /v1/tables/{table_name}/ (a flat object) or POST /v1/tables/{table_name}/{id} (``columns``),
updates on PUT /v1/tables/{table_name}/{id} or PUT /v1/tables/{table_name} (``where``).

Tables have no creation endpoint: the first insert creates one. Rows are JSON text in SQLite and are
filtered and ordered in Python: demo tables are small and this keeps the operator semantics in one
readable place. The ``where`` rule engine is the keystore search's, plus the operators listed here.
Every choice the doc leaves open is listed in docs/flowize-decisions.md ("Keystore and Tables").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.keystore import COMPARISONS, as_number, compare, compile_where, text_of
from gateway.sandbox.flowize.wire import FlowizeError, envelope, json_body, respond
from gateway.sandbox.state import SandboxDB, dumps, now_str

bp = Blueprint("flowize_tables", __name__)

__all__ = ["bp", "seed"]

DDL = """
CREATE TABLE IF NOT EXISTS fz_tbl_tables (
    customer_id INTEGER NOT NULL, name TEXT NOT NULL, columns TEXT NOT NULL DEFAULT '[]',
    next_id INTEGER NOT NULL DEFAULT 1, date_created TEXT NOT NULL,
    PRIMARY KEY (customer_id, name));
CREATE TABLE IF NOT EXISTS fz_tbl_rows (
    customer_id INTEGER NOT NULL, table_name TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
    date_created TEXT NOT NULL, date_updated TEXT NOT NULL,
    PRIMARY KEY (customer_id, table_name, id));
"""

# The doc's own rows (ids 8, 34, 625) plus two more; row 8 keeps its age as the string "18", as shown.
_DEMO_ROWS = [  # id, date_created, date_updated, username, password, type, age
    (8, "2019-04-09 15:31:21", "2019-04-09 15:33:01", "myusername", "7ff47e867e6166cb7e1fb1116a84de44", "admin", "18"),
    (34, "2019-04-10 10:50:09", "2019-04-26 09:59:28", "user12", "lzDoaCPlVGrpOYfBqTPMkqMme+nQon7j", "user", 45),
    (102, "2019-04-12 08:00:00", "2019-04-12 08:00:00", "john", "527bd5b5d689e2c32ae974c6229ff785", "user", 30),
    (417, "2019-04-20 17:12:45", "2019-04-21 09:30:00", "maria", "263bce650e68ab4e23f28263760b9fa5", "editor", 37),
    (625, "2019-04-29 10:50:59", "2019-04-29 10:50:59", "user1", "e87f23c6bda7ca05c828c4c042db50ed", "user", 54),
]
_DEMO_COLUMNS = ["username", "password", "type", "age"]
_RESERVED = ("id", "date_created", "date_updated")
_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_LIMIT = 100
MAX_ID = 2**31 - 1  # a MySQL INT, what the vendor's ids look like


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fz_tbl_tables LIMIT 1"):
        return
    with db.transaction() as conn:
        conn.execute("INSERT INTO fz_tbl_tables (customer_id, name, columns, next_id, date_created) "
                     "VALUES (1, 'users', ?, 626, '2019-04-09 15:00:00')",
                     (dumps(_DEMO_COLUMNS),))
        for row_id, created, updated, *values in _DEMO_ROWS:
            conn.execute("INSERT INTO fz_tbl_rows VALUES (1, 'users', ?, ?, ?, ?)",
                         (row_id, dumps(dict(zip(_DEMO_COLUMNS, values))), created, updated))


# -- operators: the keystore's comparisons plus the Tables list --------------------------------
def _text_test(test: Callable[[str, str], bool], negate: bool = False) -> Callable[[Any, Any], bool]:
    def evaluate(actual: Any, expected: Any) -> bool:
        if actual is None or expected is None:
            return False
        return test(text_of(actual).casefold(), text_of(expected).casefold()) != negate
    return evaluate


def _between(actual: Any, pair: list) -> bool:
    low, high = compare(actual, pair[0]), compare(actual, pair[1])
    return low is not None and high is not None and low >= 0 and high <= 0


def _is_empty(actual: Any, _: Any) -> bool:
    return actual is None or text_of(actual) == ""


_TABLE_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    **COMPARISONS,
    "=>": COMPARISONS[">="],  # the doc's list says "=>": read as >=, and ">=" works too
    "between": _between,
    "not_between": lambda a, pair: a is not None and not _between(a, pair),
    "in": lambda a, values: any(compare(a, v) == 0 for v in values),
    "not_in": lambda a, values: a is not None and not any(compare(a, v) == 0 for v in values),
    "begins_with": _text_test(str.startswith), "not_begins_with": _text_test(str.startswith, True),
    "ends_with": _text_test(str.endswith), "not_ends_with": _text_test(str.endswith, True),
    "contains": _text_test(lambda a, b: b in a), "not_contains": _text_test(lambda a, b: b in a, True),
    "is_empty": _is_empty,
    "is_not_empty": lambda a, v: not _is_empty(a, v),
}


# -- requests ------------------------------------------------------------------------------------
def _customer() -> int:
    return authenticate(require_app=False).customer_id


def _row_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise FlowizeError(400, f"The row id must be an integer from 1 to {MAX_ID}, not {raw!r}.")
    return int(raw)


def _table(db: SandboxDB, customer: int, name: str):
    meta = db.one("SELECT * FROM fz_tbl_tables WHERE customer_id = ? AND name = ?", (customer, name))
    if meta is None:
        raise FlowizeError(404, f"The table {name} does not exist.")
    return meta


def _row(db: SandboxDB, customer: int, table_name: str, rid: int):
    return db.one("SELECT * FROM fz_tbl_rows WHERE customer_id = ? AND table_name = ? AND id = ?",
                  (customer, table_name, rid))


def _no_row(table_name: str, rid: int) -> FlowizeError:
    return FlowizeError(404, f"The row {rid} does not exist in table {table_name}.")


def _out(row) -> dict[str, Any]:
    return {"id": str(row["id"]), "date_created": row["date_created"], "date_updated": row["date_updated"],
            **json.loads(row["data"])}


def _page(data: list, *, total: int, next_element: int, max_results: int, start_at: int = 0,
          limit: int = MAX_LIMIT, offset: int = 0) -> dict[str, Any]:
    return {"data": data, "total": total, "start_at": start_at, "next_element": next_element,
            "limit": limit, "offset": offset, "max_results": max_results}


def _integer(body: dict, name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():  # XML bodies carry every value as text
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FlowizeError(400, f"{name} must be a non-negative integer, not {value!r}.")
    return value


def _matching(db: SandboxDB, customer: int, meta, body: dict) -> tuple[list[dict], int, int]:
    """Rows matching ``where`` in the requested order, plus the (clamped) limit and the offset."""
    known = set(json.loads(meta["columns"])) | set(_RESERVED)

    def check_field(field: str) -> None:
        if field not in known:
            raise FlowizeError(400, f"Unknown column {field!r} in table {meta['name']}.")

    test = compile_where(body.get("where"), _TABLE_OPERATORS, check_field)
    limit = min(_integer(body, "limit", MAX_LIMIT), MAX_LIMIT)  # "You cannot retrieve more than 100"
    offset = _integer(body, "offset", 0)
    order_field = body.get("order_field") or "id"
    if not isinstance(order_field, str):
        raise FlowizeError(400, "order_field must be a column name.")
    check_field(order_field)
    order_type = body.get("order_type") or "ASC"
    if not isinstance(order_type, str) or order_type.strip().upper() not in ("ASC", "DESC"):
        raise FlowizeError(400, f"order_type must be ASC or DESC, not {order_type!r}.")

    rows = [_out(r) for r in db.all("SELECT * FROM fz_tbl_rows WHERE customer_id = ? AND table_name = ? "
                                    "ORDER BY id", (customer, meta["name"]))]
    rows = [row for row in rows if test(row.get)]

    def key(row: dict) -> tuple[int, float, str]:
        value = row.get(order_field)
        number = as_number(value)
        if value is None:
            return (0, 0.0, "")  # nulls first ascending, as MySQL sorts them
        return (1, number, "") if number is not None else (2, 0.0, text_of(value).casefold())

    # sorted() is stable, so equal values keep id order in both directions
    rows.sort(key=key, reverse=order_type.strip().upper() == "DESC")
    return rows, limit, offset


def _columns(body: Any, *, required: bool) -> dict[str, Any]:
    """The values to write: ``{"columns": [{column_name, column_value}]}`` or, for inserts, a flat object."""
    if not isinstance(body, dict):
        raise FlowizeError(400, "The request body must be a JSON object.")
    if "columns" in body:
        columns = body["columns"]
        if isinstance(columns, dict):  # one <columns> element in XML without type="array"
            columns = [columns]
        if not isinstance(columns, list) or not columns:
            raise FlowizeError(400, "columns must be a non-empty array of {column_name, column_value}.")
        values = {}
        for i, column in enumerate(columns):
            if not isinstance(column, dict) or not isinstance(column.get("column_name"), str) \
                    or "column_value" not in column:
                raise FlowizeError(400, f"columns[{i}] needs a column_name and a column_value.")
            values[column["column_name"]] = column["column_value"]
    elif required:
        raise FlowizeError(400, "columns is required: an array of {column_name, column_value}.")
    else:
        values = body
    if not values:
        raise FlowizeError(400, "There is no column to write.")
    for name, value in values.items():
        if name in _RESERVED:
            raise FlowizeError(400, f"The column {name} is set by Flowize and cannot be written.")
        if not _NAME.match(name):
            raise FlowizeError(400, f"Invalid column name {name!r}: use letters, digits, _ or - (max 64).")
        if isinstance(value, (dict, list)):
            raise FlowizeError(400, f"The value of column {name} must be a single value, not an object or array.")
    return values


def _add_columns(db: SandboxDB, meta, values: dict[str, Any], next_id: int) -> None:
    columns = json.loads(meta["columns"])
    columns += [name for name in values if name not in columns]
    db.execute("UPDATE fz_tbl_tables SET columns = ?, next_id = ? WHERE customer_id = ? AND name = ?",
               (dumps(columns), next_id, meta["customer_id"], meta["name"]))


# -- endpoints -----------------------------------------------------------------------------------
@bp.get("/v1/tables/<table_name>/<row_id>")
def get_row(table_name: str, row_id: str):
    customer, rid, db = _customer(), _row_id(row_id), sandbox().db
    _table(db, customer, table_name)
    row = _row(db, customer, table_name, rid)
    if row is None:
        raise _no_row(table_name, rid)
    return respond(_page([_out(row)], total=1, next_element=1, max_results=1))


@bp.post("/v1/tables/<table_name>/search")
def search(table_name: str):
    customer, db = _customer(), sandbox().db
    body = json_body(required=False)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise FlowizeError(400, "The search body must be a JSON object.")
    rows, limit, offset = _matching(db, customer, _table(db, customer, table_name), body)
    page = rows[offset:offset + limit]
    return respond(_page(page, total=len(page), start_at=offset, next_element=offset + len(page),
                         limit=limit, offset=offset, max_results=len(rows)))


@bp.post("/v1/tables/<table_name>", defaults={"row_id": None})
@bp.post("/v1/tables/<table_name>/", defaults={"row_id": None})
@bp.post("/v1/tables/<table_name>/<row_id>")
def insert(table_name: str, row_id: str | None):
    """A flat object on .../{table_name}/, or the "alternative way": columns on .../{table_name}/{id}."""
    customer, db = _customer(), sandbox().db
    rid = None if row_id is None else _row_id(row_id)
    if not _NAME.match(table_name):
        raise FlowizeError(400, f"Invalid table name {table_name!r}: use letters, digits, _ or - (max 64).")
    values = _columns(json_body(), required=False)
    now = now_str()
    with db.transaction():
        if db.one("SELECT 1 FROM fz_tbl_tables WHERE customer_id = ? AND name = ?", (customer, table_name)) is None:
            db.execute("INSERT INTO fz_tbl_tables (customer_id, name, date_created) VALUES (?, ?, ?)",
                       (customer, table_name, now))  # the first insert creates the table
        meta = _table(db, customer, table_name)
        if rid is None:
            rid = meta["next_id"]
        elif _row(db, customer, table_name, rid):
            raise FlowizeError(409, f"The row {rid} already exists in table {table_name}.")
        db.execute("INSERT INTO fz_tbl_rows VALUES (?, ?, ?, ?, ?, ?)",
                   (customer, table_name, rid, dumps(values), now, now))
        _add_columns(db, meta, values, max(meta["next_id"], rid + 1))
        row = _row(db, customer, table_name, rid)
    # next_element and max_results are 0 here, unlike a search: copied from the doc's insert response
    return respond(_page([_out(row)], total=1, next_element=0, max_results=0))


@bp.put("/v1/tables/<table_name>", defaults={"row_id": None})
@bp.put("/v1/tables/<table_name>/", defaults={"row_id": None})
@bp.put("/v1/tables/<table_name>/<row_id>")
def update(table_name: str, row_id: str | None):
    """Columns written to row {id}, or to the rows that where/limit/offset/order pick."""
    customer, db = _customer(), sandbox().db
    rid = None if row_id is None else _row_id(row_id)
    body = json_body()
    values = _columns(body, required=True)
    now = now_str()
    with db.transaction():
        meta = _table(db, customer, table_name)
        if rid is not None:  # the id wins: where/limit/offset/order in the same body are ignored
            if _row(db, customer, table_name, rid) is None:
                raise _no_row(table_name, rid)
            targets = [rid]
        else:
            rows, limit, offset = _matching(db, customer, meta, body)
            targets = [int(row["id"]) for row in rows[offset:offset + limit]]
        for target in targets:
            data = {**json.loads(_row(db, customer, table_name, target)["data"]), **values}
            db.execute("UPDATE fz_tbl_rows SET data = ?, date_updated = ? "
                       "WHERE customer_id = ? AND table_name = ? AND id = ?",
                       (dumps(data), now, customer, table_name, target))
        _add_columns(db, meta, values, meta["next_id"])
    # The doc says "the data stored" but its example answers data: [] with limit 100: we follow the example.
    return respond(_page([], total=len(targets), next_element=0, max_results=0))


@bp.delete("/v1/tables/<table_name>/<row_id>")
def delete_row(table_name: str, row_id: str):
    customer, rid, db = _customer(), _row_id(row_id), sandbox().db
    with db.transaction():
        _table(db, customer, table_name)
        deleted = db.execute("DELETE FROM fz_tbl_rows WHERE customer_id = ? AND table_name = ? AND id = ?",
                             (customer, table_name, rid)).rowcount
        if not deleted:
            raise _no_row(table_name, rid)
    return respond(envelope(1, f"Successfully deleted row {rid} in table {table_name}"))
