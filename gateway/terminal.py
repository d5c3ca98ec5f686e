"""``flowgate qr | jobs | events | feed``: the REST facade ``/api/`` from a terminal (docs/api.md).

An HTTP client of a running gateway, so the verbs work against any deployment: ``--url`` (env
``FLOWGATE_URL``, else http://127.0.0.1:8080), ``--key`` (env ``FLOWGATE_API_KEY``, else the embedded
demo key) and ``--json`` (the answer's JSON instead of a table) on every verb.

    flowgate qr create --vendor flowcode --uid a1 --type url --field url=https://example.com --save-image a1.png
    flowgate qr submit rows.csv --vendor exaroutes --wait --out results.csv    exit 0 / 3 partial / 1 failed
    flowgate jobs list | show ID | cancel ID | results ID [--csv] [--out FILE]
    flowgate events sessions | registrants TOKEN | register TOKEN --email E --first-name F | report TOKEN KIND
    flowgate feed FLOWKEY [--all]

Errors never end in a traceback: a problem document becomes ``flowgate: <status> <code>: <detail>``
(plus one line per ``errors`` entry) on stderr and exit 1; a gateway that cannot be reached, one line
naming the URL. Tables go to stdout, the progress bar to stderr, so ``> file`` keeps only the answer.

Everything is in this one module, the command's one place (the verbs were asked for as one module);
it is past STYLE.md's ~400 lines: if it grows, split :class:`FacadeClient` from the verbs.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

__all__ = ["FacadeClient", "FacadeError", "add_parsers"]

DEFAULT_URL = "http://127.0.0.1:8080"
DEMO_KEY = "demo-api-key"
TIMEOUT = (3.0, 60.0)   # (connect, read): a bulk CSV upload or a vendor report can take a while
EXIT_BY_STATUS = {"succeeded": 0, "partial": 3, "failed": 1, "cancelled": 1}   # the terminal statuses
ROW_MEDIA_TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}
REPORT_KINDS = ("summary", "registrants", "attendee-chat", "operator-chat", "survey-responses")
DESTINATION_HELP = ("destination fields: url{url} sms{phone, body?} phone{phone} email{email, subject?, body?} "
                    "venmo{recipient, amount?, note?} wifi{ssid, security, password?, hidden?}")

Handler = Callable[[argparse.Namespace, "FacadeClient"], int]


class FacadeError(Exception):
    """What went wrong, as one line for stderr, plus detail lines (a problem's ``errors``)."""

    def __init__(self, message: str, details: Sequence[str] = (), *, status: int = 0, retry_after: float = 0.0):
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.status = status
        self.retry_after = retry_after


def error_entry(entry: Mapping[str, Any]) -> str:
    """One ``errors`` entry of a problem: ``{"uid" | "index" | "field", "reason"}``."""
    if "uid" in entry:
        where = f"row uid={entry['uid']}"
    elif "index" in entry:
        where = f"row index={entry['index']}"
    else:
        where = str(entry.get("field") or "body")
    return f"  {where}: {entry.get('reason') or entry.get('message') or ''}"


def problem_error(resp: requests.Response) -> FacadeError:
    """An error answer as a FacadeError; a body that is not a problem document (a proxy's HTML page)
    still gives the one line, from the status alone."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        body = {}
    code = body.get("code") or f"http_{resp.status_code}"
    detail = body.get("detail") or body.get("title") or resp.reason or "no detail"
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    retry_after = resp.headers.get("Retry-After", "")
    return FacadeError(f"{resp.status_code} {code}: {detail}",
                       [error_entry(e) for e in errors if isinstance(e, Mapping)], status=resp.status_code,
                       retry_after=float(retry_after) if retry_after.isdigit() else 0.0)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is somewhere in the chain requests and urllib3 wrap a socket error in."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])
    return False


def unreachable(url: str, exc: requests.RequestException, timeout: tuple[float, float] = TIMEOUT) -> FacadeError:
    if _caused_by(exc, ConnectionRefusedError):
        why = "connection refused; is it running? (flowgate serve, or --url / FLOWGATE_URL)"
    elif isinstance(exc, requests.ConnectTimeout):
        why = f"no connection within {timeout[0]:g} s"
    elif isinstance(exc, requests.Timeout):
        why = f"no answer within {timeout[1]:g} s"
    elif isinstance(exc, requests.ConnectionError):
        why = "cannot connect"
    else:
        why = f"the connection failed ({type(exc).__name__})"
    return FacadeError(f"cannot reach the gateway at {url}: {why}")


class FacadeClient:
    """The facade over HTTP: one Session, the consumer key as ``X-Apikey``, a timeout on every call.
    Errors come out as :class:`FacadeError` only."""

    def __init__(self, url: str, key: str, *, timeout: tuple[float, float] = TIMEOUT,
                 session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({"X-Apikey": key, "User-Agent": "flowgate-cli"})

    def send(self, method: str, path: str, *, stream: bool = False, **kw: Any) -> requests.Response:
        """``path`` is relative to the gateway (``/api/...``); an absolute URL is used as is."""
        target = path if path.startswith(("http://", "https://")) else self.url + path
        try:
            resp = self.session.request(method, target, timeout=self.timeout, stream=stream, **kw)
        except requests.RequestException as exc:
            raise unreachable(self.url, exc, self.timeout) from None
        if resp.status_code >= 400:
            error = problem_error(resp)
            resp.close()
            raise error
        return resp

    def json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.send(method, path, **kw)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise FacadeError(f"{resp.status_code} not_json: {self.url}{path} did not answer JSON; "
                              "is --url a Flowgate gateway?") from None

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *, key: str = "items") -> Iterator[Any]:
        """Every item of a paged list, following ``next_cursor`` to the end."""
        query = dict(params or {})
        while True:
            page = self.json("GET", path, params=query) or {}
            yield from page.get(key) or []
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    def download(self, path: str, dest: Path, *, accept: str, **kw: Any) -> int:
        """Stream the answer into ``dest`` (through ``dest.part``: no half file under the real name)."""
        resp = self.send("GET", path, stream=True, headers={"Accept": accept}, **kw)
        part = dest.with_name(dest.name + ".part")
        size = 0
        try:
            with resp, part.open("wb") as out:
                for chunk in resp.iter_content(chunk_size=65536):
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(dest)
        return size

    def ndjson(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """The objects of an NDJSON stream, each as soon as its line has arrived."""
        with self.send("GET", path, params=params, stream=True, headers={"Accept": "application/x-ndjson"}) as resp:
            pending = b""
            # chunk_size=None: whatever the server has flushed, so rows show as they come
            for chunk in resp.iter_content(chunk_size=None):
                *lines, pending = (pending + chunk).split(b"\n")
                yield from (json.loads(line) for line in lines if line.strip())
            if pending.strip():
                yield json.loads(pending)


# -- output ---------------------------------------------------------------------------------------
def _dig(item: Mapping[str, Any], key: str) -> Any:
    value: Any = item
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _text(value: Any, width: int = 0) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    text = " ".join(text.split())
    return text[: width - 1] + "…" if width and len(text) > width else text


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(items: Sequence[Mapping[str, Any]], columns: Sequence[str], *, width: int = 80) -> None:
    """A rich table of the columns that occur (``a.b`` reaches into objects); the facade may add
    fields, so when none of ours occur, every scalar field of the first item is shown."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not items:
        print("(none)", file=sys.stderr)
        return
    shown = [c for c in columns if any(_dig(i, c) is not None for i in items)]
    if not shown:
        shown = [k for k, v in items[0].items() if not isinstance(v, (dict, list))]
    table = Table()
    for column in shown:
        table.add_column(column.replace(".", " "), overflow="fold")
    for item in items:
        table.add_row(*(Text(_text(_dig(item, c), width)) for c in shown))  # Text: "[x]" is not markup
    Console().print(table)


def _print_items(items: list[Any], as_json: bool, columns: Sequence[str]) -> None:
    """Every page's items: a table, or with --json one object ``{"items": [...]}``."""
    if as_json:
        _print_json({"items": items})
    else:
        print_table(items, columns)


def print_fields(data: Mapping[str, Any]) -> None:
    """One object as a two-column table."""
    print_table([{"field": k, "value": v} for k, v in data.items()], ("field", "value"), width=0)


def _write_stdout(chunks: Iterator[bytes]) -> None:
    sys.stdout.flush()
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def _save_or_print(client: FacadeClient, path: str, out: str | None, accept: str) -> None:
    """A body as is: into ``out``, or onto stdout byte for byte."""
    if out:
        size = client.download(path, Path(out), accept=accept)
        print(f"wrote {size} bytes to {out}", file=sys.stderr)
    else:
        with client.send("GET", path, stream=True, headers={"Accept": accept}) as resp:
            _write_stdout(resp.iter_content(chunk_size=65536))


# -- argument values ------------------------------------------------------------------------------
def name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    return name.strip(), value


def option_value(value: str) -> Any:
    """``--option`` values are strings, except JSON objects/arrays and true/false (ExaRoutes'
    ``styling``, ``secure``...). Numbers stay strings: ``studio_config_id`` must be one."""
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return {"true": True, "false": False}.get(value, value)


def _seg(value: str) -> str:
    return quote(value, safe="")


# -- qr -------------------------------------------------------------------------------------------
def cmd_qr_create(args: argparse.Namespace, client: FacadeClient) -> int:
    kind = args.type or ("url" if args.url_dest else None)
    if not kind:
        raise UsageError("qr create needs --type (or --url-dest)")
    destination: dict[str, Any] = {"type": kind}
    if args.url_dest:
        destination["url"] = args.url_dest
    for name, value in args.field or []:
        destination[name] = {"true": True, "false": False}.get(value.lower(), value) if name == "hidden" else value
    body: dict[str, Any] = {"vendor": args.vendor, "row": {"uid": args.uid, "destination": destination}}
    if args.option:
        body["options"] = {name: option_value(value) for name, value in args.option}
    code = client.json("POST", "/api/qr/codes", json=body)
    if args.json:
        _print_json(code)
    else:
        print_fields({"uid": code.get("uid"), "vendor": code.get("vendor"), "vendor_id": code.get("vendor_id"),
                      "url": code.get("url"), "image": _dig(code, "image.href"),
                      "media_type": _dig(code, "image.media_type")})
    if args.save_image:
        size = client.download(_dig(code, "image.href"), Path(args.save_image),
                               accept=_dig(code, "image.media_type") or "*/*")
        print(f"saved the image to {args.save_image} ({size} bytes)", file=sys.stderr)
    return 0


def cmd_qr_submit(args: argparse.Namespace, client: FacadeClient) -> int:
    path = Path(args.rows)
    media_type = ROW_MEDIA_TYPES.get(path.suffix.lower())
    if media_type is None:
        raise UsageError(f"{path}: rows come as .csv, .ndjson or .jsonl")
    if args.out and not args.wait:
        raise UsageError("--out needs --wait (or later: flowgate jobs results ID --csv --out FILE)")
    params = {"vendor": args.vendor, **{name: value for name, value in args.option or []}}
    headers = {"Content-Type": media_type}
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    with path.open("rb") as rows:  # the open file as data: requests streams it, nothing held in memory
        job = client.json("POST", "/api/qr/jobs", params=params, data=rows, headers=headers)
    if not args.wait:
        if args.json:
            _print_json(job)
        else:
            print(job["id"])
        return 0
    print(f"job {job['id']}: {job.get('total', '?')} rows queued", file=sys.stderr)
    try:
        final = wait_for_job(client, job["id"], args.interval)
    except KeyboardInterrupt:
        print(f"flowgate: stopped waiting; job {job['id']} goes on (flowgate jobs show {job['id']})",
              file=sys.stderr)
        return 130
    if args.json:
        _print_json(final)
    else:
        print(f"job {final['id']} {final['status']}: {final.get('done', 0)} done, "
              f"{final.get('failed', 0)} failed of {final.get('total', '?')}")
    errors = final.get("errors")
    if isinstance(errors, list):
        for entry in errors[:20]:
            print(error_entry(entry) if isinstance(entry, Mapping) else f"  {entry}", file=sys.stderr)
        if len(errors) > 20:
            print(f"  ... and {len(errors) - 20} more (flowgate jobs results {final['id']})", file=sys.stderr)
    if args.out:
        size = client.download(f"/api/qr/jobs/{_seg(final['id'])}/results", Path(args.out), accept="text/csv")
        print(f"wrote the results ({size} bytes) to {args.out}", file=sys.stderr)
    return EXIT_BY_STATUS.get(final.get("status", ""), 1)


def wait_for_job(client: FacadeClient, job_id: str, interval: float = 1.0) -> dict[str, Any]:
    """Poll the job until a terminal status, with a progress bar on stderr: done+failed of total."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as progress:
        task = progress.add_task("queued", total=None)
        while True:
            try:
                job = client.json("GET", f"/api/qr/jobs/{_seg(job_id)}")
            except FacadeError as exc:
                if exc.status != 429:
                    raise
                time.sleep(max(interval, exc.retry_after))  # polling spends the key's rate limit too
                continue
            failed = job.get("failed") or 0
            progress.update(task, total=job.get("total") or None, completed=(job.get("done") or 0) + failed,
                            description=f"{job.get('status')}, {failed} failed")
            if job.get("status") in EXIT_BY_STATUS:
                return dict(job)
            time.sleep(interval)


# -- jobs -----------------------------------------------------------------------------------------
JOB_COLUMNS = ("id", "vendor", "status", "total", "done", "failed", "created_at")


def cmd_jobs_list(args: argparse.Namespace, client: FacadeClient) -> int:
    params = {k: v for k, v in (("limit", args.limit), ("cursor", args.cursor)) if v is not None}
    page = client.json("GET", "/api/qr/jobs", params=params)
    if args.json:
        _print_json(page)
        return 0
    print_table(page.get("items") or [], JOB_COLUMNS)
    if page.get("next_cursor"):
        print(f"more: flowgate jobs list --cursor {page['next_cursor']}", file=sys.stderr)
    return 0


def cmd_jobs_show(args: argparse.Namespace, client: FacadeClient) -> int:
    job = client.json("GET", f"/api/qr/jobs/{_seg(args.id)}")
    if args.json:
        _print_json(job)
    else:
        print_fields(job)
    return 0


def cmd_jobs_cancel(args: argparse.Namespace, client: FacadeClient) -> int:
    job = client.json("DELETE", f"/api/qr/jobs/{_seg(args.id)}")
    if args.json:
        _print_json(job)
    else:
        print(f"job {args.id}: {(job or {}).get('status', 'cancelled')}")
    return 0


def cmd_jobs_results(args: argparse.Namespace, client: FacadeClient) -> int:
    path = f"/api/qr/jobs/{_seg(args.id)}/results"
    if args.csv or args.out:
        _save_or_print(client, path, args.out, "text/csv" if args.csv else "application/json")
        return 0
    _print_items(list(client.pages(path)), args.json,
                 ("uid", "status", "vendor_id", "url", "code", "error.code", "message", "error.message"))
    return 0


# -- events ---------------------------------------------------------------------------------------
def cmd_events_sessions(args: argparse.Namespace, client: FacadeClient) -> int:
    _print_items(list(client.pages("/api/events/sessions", {"period": args.period})), args.json,
                 ("token", "title", "starts_at", "ends_at", "status", "registration_url"))
    return 0


def cmd_events_registrants(args: argparse.Namespace, client: FacadeClient) -> int:
    _print_items(list(client.pages(f"/api/events/sessions/{_seg(args.token)}/registrants")), args.json,
                 ("id", "email", "first_name", "last_name", "registered_at", "attended", "minutes_watched"))
    return 0


def cmd_events_register(args: argparse.Namespace, client: FacadeClient) -> int:
    body = {k: v for k, v in (("email", args.email), ("first_name", args.first_name),
                              ("last_name", args.last_name), ("company", args.company)) if v}
    resp = client.send("POST", f"/api/events/sessions/{_seg(args.token)}/registrants", json=body)
    registrant = resp.json()
    if args.json:
        _print_json(registrant)
        return 0
    if resp.status_code == 201:
        print(f"registered {args.email} for {args.token}")
    else:
        print(f"{args.email} was already registered for {args.token}")
    if isinstance(registrant, Mapping) and registrant.get("join_url"):
        print(f"join: {registrant['join_url']}")
    return 0


def cmd_events_report(args: argparse.Namespace, client: FacadeClient) -> int:
    path = f"/api/events/sessions/{_seg(args.token)}/reports/{_seg(args.kind)}"
    if args.csv or args.out:  # the vendor's CSV as is (its BOM, its line ends), or the JSON as is
        _save_or_print(client, path, args.out, "text/csv" if args.csv else "application/json")
        return 0
    report = client.json("GET", path)
    items = report.get("items") if isinstance(report, Mapping) else None
    if args.json or not isinstance(items, list):
        _print_json(report)
    elif len(items) == 1:  # the summary: one wide row reads better as fields
        print_fields(items[0])
    else:
        print_table(items, ())
    return 0


# -- feed -----------------------------------------------------------------------------------------
POST_COLUMNS = ("published_at", "author.name", "author_name", "type", "text", "link")


def cmd_feed(args: argparse.Namespace, client: FacadeClient) -> int:
    path = f"/api/feeds/{_seg(args.flow_key)}"
    params: dict[str, Any] = {"limit": args.limit} if args.limit else {}
    if not args.all:
        if args.cursor:
            params["cursor"] = args.cursor
        page = client.json("GET", path, params=params)
        if args.json:
            _print_json(page)
            return 0
        print_table(page.get("posts") or [], POST_COLUMNS)
        if page.get("next_cursor"):
            print(f"more: flowgate feed {args.flow_key} --cursor {page['next_cursor']}", file=sys.stderr)
        return 0
    count = 0
    for post in client.ndjson(path, {**params, "all": "true"}):
        count += 1
        if args.json:
            print(json.dumps(post, ensure_ascii=False), flush=True)
        else:
            author = _dig(post, "author.name") or post.get("author_name") or _dig(post, "author.username")
            print(f"{_text(post.get('published_at')):<27}  {_text(author, 20):<20}  {_text(post.get('type'), 8):<8}  "
                  f"{_text(post.get('text'), 80)}", flush=True)
    print(f"{count} posts", file=sys.stderr)
    return 0


# -- wiring ---------------------------------------------------------------------------------------
class UsageError(Exception):
    """A request this verb cannot make (exit 2, like argparse's own errors)."""


def _run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Run a verb: the one place errors become a line on stderr and an exit code."""
    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        url = args.url or os.environ.get("FLOWGATE_URL") or DEFAULT_URL
        key = args.key or os.environ.get("FLOWGATE_API_KEY") or DEMO_KEY
        client = FacadeClient(url, key)
        try:
            return handler(args, client)
        except FacadeError as exc:
            print(f"flowgate: {exc.message}", file=sys.stderr)
            for line in exc.details:
                print(line, file=sys.stderr)
            return 1
        except UsageError as exc:
            print(f"flowgate: {exc}", file=sys.stderr)
            return 2
        except requests.RequestException as exc:  # mid-stream: the answer started, then broke
            print(f"flowgate: {unreachable(client.url, exc, client.timeout).message}", file=sys.stderr)
            return 1
        except BrokenPipeError:  # `flowgate feed KEY --all | head`: the reader has had enough
            _silence_stdout()
            return 1
        except OSError as exc:  # our files: the rows to send, where to write
            print(f"flowgate: {exc.filename}: {exc.strerror}" if exc.filename else f"flowgate: {exc}", file=sys.stderr)
            return 1
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # an answer not in the contract's shape
            print(f"flowgate: unexpected answer from {client.url} ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        finally:
            client.session.close()
    return run


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help=f"the gateway (env FLOWGATE_URL, default {DEFAULT_URL})")
    common.add_argument("--key", help=f"consumer key, sent as X-Apikey (env FLOWGATE_API_KEY, default {DEMO_KEY})")
    common.add_argument("--json", action="store_true", help="print the answer's JSON instead of a table")
    return common


def add_parsers(sub: Any) -> None:
    """Add ``qr``, ``jobs``, ``events`` and ``feed`` to ``flowgate``'s subparsers."""
    common = [_common()]

    def verb(group: Any, name: str, handler: Handler, what: str, **kw: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, parents=common, help=what, description=what, **kw)
        parser.set_defaults(func=_run(handler))
        return parser

    qr = sub.add_parser("qr", help="QR codes through the facade (/api/qr)").add_subparsers(dest="verb", required=True)
    p = verb(qr, "create", cmd_qr_create, "create one QR code (POST /api/qr/codes)", epilog=DESTINATION_HELP)
    p.add_argument("--vendor", required=True, choices=("flowcode", "exaroutes"))
    p.add_argument("--uid", required=True)
    p.add_argument("--type", choices=("url", "sms", "phone", "email", "venmo", "wifi"))
    p.add_argument("--url-dest", metavar="URL", help="shortcut for --type url --field url=URL")
    p.add_argument("--field", action="append", type=name_value, metavar="NAME=VALUE", help="a destination field")
    p.add_argument("--option", action="append", type=name_value, metavar="NAME=VALUE",
                   help="file_type, folder_id, studio_config_id, qrType...")
    p.add_argument("--save-image", metavar="PATH", help="also download the image to PATH")
    p = verb(qr, "submit", cmd_qr_submit, "submit a bulk job from a CSV or NDJSON file (POST /api/qr/jobs)")
    p.add_argument("rows", help="ROWS.csv (uid,type,<destination fields>) or ROWS.ndjson / .jsonl")
    p.add_argument("--vendor", required=True, choices=("flowcode", "exaroutes"))
    p.add_argument("--option", action="append", type=name_value, metavar="NAME=VALUE",
                   help="sent as a query parameter of that name")
    p.add_argument("--wait", action="store_true", help="follow the job to its end; exit 0 succeeded, 3 partial, 1 failed")
    p.add_argument("--out", metavar="FILE", help="with --wait: write the results CSV to FILE")
    p.add_argument("--idempotency-key", metavar="K", help="a retried submit with the same key makes no new job")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="between polls (default 1)")

    jobs = sub.add_parser("jobs", help="bulk QR jobs (/api/qr/jobs)").add_subparsers(dest="verb", required=True)
    p = verb(jobs, "list", cmd_jobs_list, "list jobs, newest first")
    p.add_argument("--limit", type=int)
    p.add_argument("--cursor")
    verb(jobs, "show", cmd_jobs_show, "one job's status and counts").add_argument("id")
    verb(jobs, "cancel", cmd_jobs_cancel, "cancel a job (DELETE)").add_argument("id")
    p = verb(jobs, "results", cmd_jobs_results, "a job's per-row results")
    p.add_argument("id")
    p.add_argument("--csv", action="store_true", help="the results as CSV (Accept: text/csv)")
    p.add_argument("--out", metavar="FILE", help="write the answer to FILE as is")

    events = sub.add_parser("events", help="Flow events sessions (/api/events)").add_subparsers(dest="verb", required=True)
    p = verb(events, "sessions", cmd_events_sessions, "list sessions (all pages)")
    p.add_argument("--period", choices=("all", "current", "past", "upcoming"), default="all")
    verb(events, "registrants", cmd_events_registrants, "a session's registrants").add_argument("token")
    p = verb(events, "register", cmd_events_register, "register someone for a session")
    p.add_argument("token")
    p.add_argument("--email", required=True)
    p.add_argument("--first-name", required=True)
    p.add_argument("--last-name")
    p.add_argument("--company")
    p = verb(events, "report", cmd_events_report, "a session report")
    p.add_argument("token")
    p.add_argument("kind", choices=REPORT_KINDS)
    p.add_argument("--csv", action="store_true", help="the vendor's CSV as is (Accept: text/csv)")
    p.add_argument("--out", metavar="FILE", help="write the answer to FILE as is")

    p = verb(sub, "feed", cmd_feed, "a Flowbox feed's posts (/api/feeds/FLOWKEY)")
    p.add_argument("flow_key", metavar="FLOWKEY")
    p.add_argument("--all", action="store_true", help="every post, streamed as NDJSON and printed as it arrives")
    p.add_argument("--limit", type=int, help="posts per page")
    p.add_argument("--cursor", help="the page after this cursor (not with --all)")
