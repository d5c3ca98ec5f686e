"""Dynamic SOAP stacks against the real gateway: PHP SoapClient, Node `soap` and `strong-soap`, Perl
SOAP::Lite, Python suds.

Each stack loads the WSDL from the running gateway (``/v1/soap?wsdl``) and does what a legacy client
does: insertRecord -> getRecord -> two faults (an unknown Uuid, a wrong Apikey), in SOAP 1.1 and 1.2
(suds speaks only SOAP 1.1). The client scripts (``php/``, ``node/``, ``perl/``) print JSON with the
values *as the stack read them*; suds runs in this process and fills the same JSON; the assertions are
here, and include that loading the WSDL printed no warning (strong-soap prints WS-I violations).
Stacks that generate code from the WSDL are in ``test_interop_codegen.py``. An absent tool skips,
unless ``GATEWAY_REQUIRE_SERVICES`` is set (CI installs them with ``.ci/install-interop-tools``), where
it fails.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from interop_common import DATA, local, require
from lxml import etree

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
WSDL_FILE = HERE.parents[1] / "wsdl" / "flowize.wsdl"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
CLIENT_TIMEOUT = 60


@dataclass(frozen=True)
class Stack:
    name: str
    script: Path
    interpreter: str
    versions: tuple[str, ...] = ("1.1", "1.2")

    def command(self, wsdl_url: str, version: str) -> list[str]:
        return [self.interpreter, str(self.script), wsdl_url, version, json.dumps(DATA)]

    def missing(self) -> str | None:
        """Why this stack cannot run here, or None when it can."""
        if shutil.which(self.interpreter) is None:
            return f"{self.interpreter} is not installed"
        probe = {
            "php": ["php", "-r", "exit(class_exists('SoapClient') ? 0 : 1);"],
            "node": ["node", "-e", "require.resolve('soap')"],
            "strong-soap": ["node", "-e", "require.resolve('strong-soap')"],
            "perl": ["perl", "-MSOAP::Lite", "-MJSON::PP", "-MXML::Parser", "-e", "1"],
        }[self.name]
        why = {
            "php": "PHP has no soap extension (Debian: php-soap)",
            "node": "the npm package `soap` is not installed in tests/interop/node (npm ci there)",
            "strong-soap": "the npm package `strong-soap` is not installed in tests/interop/node (npm ci there)",
            "perl": "Perl SOAP::Lite is not installed (Debian: libsoap-lite-perl)",
        }[self.name]
        try:
            ok = subprocess.run(probe, cwd=self.script.parent, capture_output=True, timeout=30,
                                check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        return None if ok else why


STACKS = {
    "php": Stack("php", HERE / "php" / "flowize_client.php", "php"),
    "node": Stack("node", HERE / "node" / "flowize_client.js", "node"),
    "strong-soap": Stack("strong-soap", HERE / "node" / "flowize_client_strong.js", "node"),
    "perl": Stack("perl", HERE / "perl" / "flowize_client.pl", "perl"),
}


def _wsdl_operations() -> list[str]:
    tree = etree.parse(str(WSDL_FILE))
    return tree.xpath("/w:definitions/w:portType/w:operation/@name", namespaces={"w": WSDL_NS})


def _require(stack: Stack) -> None:
    require(stack.missing(), f"the {stack.name} SOAP stack")


def _run(stack: Stack, gateway_url: str, version: str) -> dict:
    _require(stack)
    proc = subprocess.run(stack.command(f"{gateway_url}/v1/soap?wsdl", version), cwd=stack.script.parent,
                          capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False)
    assert proc.returncode == 0, f"{stack.name} client exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}"
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"{stack.name} client printed no JSON:\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    assert "error" not in out, f"{stack.name} SOAP {version}: {out['error']}"
    # Loading the WSDL and calling it printed nothing on stderr: no WS-I violation (strong-soap's
    # console.warn), no PHP/Perl warning, no deprecation.
    assert not proc.stderr.strip(), f"{stack.name} SOAP {version} warned:\n{proc.stderr}"
    assert not out.get("warnings"), f"{stack.name} SOAP {version} warned: {out['warnings']}"
    return out


def _suds_round_trip(gateway_url: str) -> dict:
    """The same steps as the scripts, with suds in this process; values as suds read them."""
    try:
        import suds
        import suds.client
        from suds.transport import TransportError
        from suds.transport.http import HttpTransport
    except ImportError:
        require("suds is not installed (it is in setup.cfg's dev extra: pip install -e '.[dev]')", "suds")

    class Recording(HttpTransport):
        """suds' own transport, noting the Content-Type sent and received (faults arrive as HTTP 500)."""

        def send(self, request):
            self.sent_type = request.headers.get("Content-Type")
            try:
                reply = super().send(request)
            except TransportError as exc:
                self.received_type = exc.fp.headers.get("Content-Type") if exc.fp is not None else None
                raise
            self.received_type = reply.headers.get("Content-Type")
            return reply

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(f"{record.name}: {record.getMessage()}")

    # suds reports WSDL problems on its "suds" loggers; user warnings raised from its own code count too
    # (not the Import/Resource/DeprecationWarnings the rest of the process happens to raise meanwhile).
    said: list[str] = []
    handler, suds_log = Collect(logging.WARNING), logging.getLogger("suds")
    suds_log.addHandler(handler)
    transport = Recording(timeout=15)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client = suds.client.Client(f"{gateway_url}/v1/soap?wsdl", cache=None, transport=transport,
                                        timeout=15)
    finally:
        suds_log.removeHandler(handler)
    said += [str(w.message) for w in caught
             if issubclass(w.category, UserWarning) and f"{os.sep}suds{os.sep}" in w.filename]
    service = client.wsdl.services[0]
    out: dict = {"stack": "suds", "suds": suds.__version__, "soap_version": "1.1", "steps": {},
                 "warnings": said, "ports": [p.name for p in service.ports],
                 "operations": [m.name for m in service.ports[0].methods.values()]}
    port = client.service["FlowizeSoap11"]
    auth = {"Apikey": "demo-api-key", "Appkey": "demo-app", "Version": "1"}
    data = base64.b64encode(json.dumps(DATA).encode()).decode()

    def text(value) -> str | None:
        return None if value is None else str(value)

    def step(name: str, operation: str, **input_) -> dict | None:
        entry: dict = {"operation": operation}
        try:
            result = getattr(port, operation)(input=input_)
            entry["result"] = {f: text(getattr(result, f, None)) for f in
                               ("Id", "Code", "RequestIP", "Resource", "Message", "Error")}
        except suds.WebFault as fault:
            f = fault.fault
            items = getattr(getattr(f, "detail", None), "item", None) or []
            entry["fault"] = {"faultcode": text(f.faultcode), "faultstring": text(f.faultstring),
                              "faultactor": text(getattr(f, "faultactor", None)),
                              "detail": {text(i.key): text(i.value) for i in items}}
        entry["request_content_type"] = transport.sent_type
        entry["content_type"] = transport.received_type
        out["steps"][name] = entry
        return entry.get("result")

    inserted = step("insert", "insertRecord", AuthenticationObject=auth, DataRecordObject={"Data": data},
                    FlowDiagramObject={"Flow": "demo-flow"})
    resource = (inserted or {}).get("Resource")
    out["inserted_resource_decoded"] = json.loads(base64.b64decode(resource)) if resource else None
    record = f"suds-11-{uuid.uuid4().hex[:12]}"
    step("insert_with_uuid", "insertRecord", AuthenticationObject=auth,
         DataRecordObject={"Uuid": record, "Data": data}, FlowDiagramObject={"Flow": "demo-flow"})
    got = step("get", "getRecord", AuthenticationObject=auth, DataRecordObject={"Uuid": record})
    out["got_resource_decoded"] = json.loads(got["Resource"]) if got and got.get("Resource") else None
    step("get_unknown", "getRecord", AuthenticationObject=auth,
         DataRecordObject={"Uuid": f"no-such-record-{uuid.uuid4().hex[:8]}"})
    step("wrong_apikey", "insertRecord", AuthenticationObject={**auth, "Apikey": "wrong-api-key"},
         DataRecordObject={"Data": data}, FlowDiagramObject={"Flow": "demo-flow"})
    assert not out["warnings"], out["warnings"]
    return out


@pytest.fixture(scope="module")
def wsdl_operations() -> list[str]:
    return _wsdl_operations()


@pytest.mark.parametrize(("stack_name", "version"),
                         [(name, version) for name, stack in STACKS.items() for version in stack.versions])
def test_stack_inserts_reads_back_and_gets_faults(stack_name, version, gateway_url, wsdl_operations):
    out = _run(STACKS[stack_name], gateway_url, version)
    _assert_round_trip(out, f"{stack_name} SOAP {version}", version, wsdl_operations)


def test_suds_inserts_reads_back_and_gets_faults(gateway_url, wsdl_operations):
    """suds (PyPI `suds`, formerly suds-community) sends SOAP 1.1 envelopes only, whichever port it uses."""
    out = _suds_round_trip(gateway_url)
    _assert_round_trip(out, "suds SOAP 1.1", "1.1", wsdl_operations)


def _assert_round_trip(out: dict, label: str, version: str, wsdl_operations: list[str]) -> None:
    steps = out["steps"]

    # The stack understood the served WSDL: all eleven operations, in WSDL order.
    assert out["operations"] == wsdl_operations, label

    # It spoke the SOAP version asked for, and the gateway answered in the same one.
    media = "application/soap+xml" if version == "1.2" else "text/xml"
    for name, step in steps.items():
        assert (step["request_content_type"] or "").startswith(media), (label, name, step)
        assert (step["content_type"] or "").startswith(media), (label, name, step)

    # insertRecord: 201 "created", Resource is base64 of the data as stored.
    for name in ("insert", "insert_with_uuid"):
        assert "fault" not in steps[name], (label, name, steps[name])
        result = steps[name]["result"]
        assert result["Code"] == "201", (label, name, result)
        assert result["Id"] == "created", (label, name, result)
        assert result["Error"] == "null", (label, name, result)
        assert result["RequestIP"] == "127.0.0.1", (label, name, result)
        assert result["Message"], (label, name, result)
        assert json.loads(base64.b64decode(result["Resource"])) == DATA, (label, name, result)
    assert out["inserted_resource_decoded"] == DATA, label

    # getRecord of the Uuid the client chose: 200 "ok", Resource is the record's JSON, characters intact.
    get = steps["get"]
    assert "fault" not in get, (label, get)
    assert get["result"]["Code"] == "200", (label, get)
    assert get["result"]["Id"] == "ok", (label, get)
    assert get["result"]["Error"] == "null", (label, get)
    assert out["got_resource_decoded"] == DATA, (label, get)

    # Faults: the vendor's code reaches the client. SOAP 1.1 carries it in faultcode; SOAP 1.2 has only
    # Sender/Receiver there, so it travels in Detail (item key "code"), as docs/soap-decisions.md says.
    for name, message in (("get_unknown", None), ("wrong_apikey", "The credentials are not correct.")):
        step = steps[name]
        assert "result" not in step, (label, name, step)
        fault = step["fault"]
        assert "unparsed" not in fault, (label, name, fault)
        if version == "1.1":
            assert fault["faultcode"] == "404", (label, name, fault)
            assert fault["faultactor"], (label, name, fault)  # the request id, as the vendor's token
        else:
            assert local(fault["faultcode"]) == "Sender", (label, name, fault)
        assert fault["detail"] == {"code": "404", "message": fault["faultstring"]}, (label, name, fault)
        assert fault["faultstring"], (label, name, fault)
        if message:
            assert fault["faultstring"] == message, (label, name, fault)


def test_every_stack_is_known_to_the_install_script():
    """CI installs what these tests run: each stack's package is named in .ci/install-interop-tools,
    the npm ones are pinned exactly in package.json and the lock file, suds is in setup.cfg's dev extra."""
    script = (HERE.parents[1] / ".ci" / "install-interop-tools").read_text()
    for package in ("php-cli", "php-soap", "libsoap-lite-perl", "libsoap-wsdl-perl", "gsoap", "libgsoap-dev",
                    "mono-devel", "jaxws", "npm ci"):
        assert package in script, package
    lock = json.loads((HERE / "node" / "package-lock.json").read_text())
    pinned = json.loads((HERE / "node" / "package.json").read_text())["dependencies"]
    for package in ("soap", "strong-soap"):
        assert lock["packages"][f"node_modules/{package}"]["version"] == pinned[package], package
    setup = (HERE.parents[1] / "setup.cfg").read_text()
    dev = setup.split("\ndev =", 1)[1].split("\n\n", 1)[0]
    assert "suds" in dev


def test_soap12_fault_code_is_a_resolvable_qname(gateway_url):
    envelope = (f'<s:Envelope xmlns:s="{SOAP12_ENV}" xmlns:f="Flowize"><s:Body><f:getRecord><input>'
                "<AuthenticationObject><Apikey>wrong-api-key</Apikey><Appkey>demo-app</Appkey>"
                "</AuthenticationObject><DataRecordObject><Uuid>x</Uuid></DataRecordObject>"
                "</input></f:getRecord></s:Body></s:Envelope>")
    response = requests.post(f"{gateway_url}/v1/soap", data=envelope.encode(), timeout=10,
                             headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    value = etree.fromstring(response.content).find(f".//{{{SOAP12_ENV}}}Code/{{{SOAP12_ENV}}}Value")
    prefix, _, local = value.text.partition(":")
    assert value.nsmap.get(prefix) == SOAP12_ENV, f"{value.text!r} with namespaces in scope {value.nsmap}"
    assert local == "Sender"
