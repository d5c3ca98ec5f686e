"""Non-Python SOAP stacks against the real gateway: PHP SoapClient, Node `soap`, Perl SOAP::Lite.

Each stack loads the WSDL from the running gateway (``/v1/soap?wsdl``) and does what a legacy client
does: insertRecord -> getRecord -> two faults (an unknown Uuid, a wrong Apikey), in SOAP 1.1 and 1.2.
The client scripts (``php/``, ``node/``, ``perl/``) print JSON with the values *as the stack read them*;
the assertions are here. An absent tool skips, unless ``GATEWAY_REQUIRE_SERVICES`` is set (CI installs
them with ``.ci/install-interop-tools``), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
WSDL_FILE = HERE.parents[1] / "wsdl" / "flowize.wsdl"
REQUIRE_SERVICES = os.environ.get("GATEWAY_REQUIRE_SERVICES", "") not in ("", "0", "false")
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
# Non-ASCII and XML-special characters: the getRecord Resource carries this JSON as element text.
DATA = {"client": [{"name": "Zoë Ñandú & <Sons>", "email": "zoe@example.com", "tags": ["a", "b"]}]}
CLIENT_TIMEOUT = 60
INSTALL_HINT = "run .ci/install-interop-tools (as root) to install it"


@dataclass(frozen=True)
class Stack:
    name: str
    script: Path
    interpreter: str

    def command(self, wsdl_url: str, version: str) -> list[str]:
        return [self.interpreter, str(self.script), wsdl_url, version, json.dumps(DATA)]

    def missing(self) -> str | None:
        """Why this stack cannot run here, or None when it can."""
        if shutil.which(self.interpreter) is None:
            return f"{self.interpreter} is not installed"
        probe = {
            "php": ["php", "-r", "exit(class_exists('SoapClient') ? 0 : 1);"],
            "node": ["node", "-e", "require.resolve('soap')"],
            "perl": ["perl", "-MSOAP::Lite", "-MJSON::PP", "-MXML::Parser", "-e", "1"],
        }[self.name]
        why = {
            "php": "PHP has no soap extension (Debian: php-soap)",
            "node": "the npm package `soap` is not installed in tests/interop/node (npm ci there)",
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
    "perl": Stack("perl", HERE / "perl" / "flowize_client.pl", "perl"),
}


def _wsdl_operations() -> list[str]:
    tree = etree.parse(str(WSDL_FILE))
    return tree.xpath("/w:definitions/w:portType/w:operation/@name", namespaces={"w": WSDL_NS})


def _require(stack: Stack) -> None:
    why = stack.missing()
    if why is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{why}; GATEWAY_REQUIRE_SERVICES is set, so the {stack.name} SOAP stack must be here "
                    f"({INSTALL_HINT})")
    pytest.skip(f"{why}; {INSTALL_HINT}, or set GATEWAY_REQUIRE_SERVICES=1 to make this a failure")


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
    return out


def _local(qname: str | None) -> str | None:
    return qname.rsplit(":", 1)[-1] if qname else qname


@pytest.fixture(scope="module")
def wsdl_operations() -> list[str]:
    return _wsdl_operations()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("stack_name", list(STACKS))
def test_stack_inserts_reads_back_and_gets_faults(stack_name, version, gateway_url, wsdl_operations):
    out = _run(STACKS[stack_name], gateway_url, version)
    steps = out["steps"]
    label = f"{stack_name} SOAP {version}"

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
            assert _local(fault["faultcode"]) == "Sender", (label, name, fault)
        assert fault["detail"] == {"code": "404", "message": fault["faultstring"]}, (label, name, fault)
        assert fault["faultstring"], (label, name, fault)
        if message:
            assert fault["faultstring"] == message, (label, name, fault)


def test_every_stack_is_known_to_the_install_script():
    """CI installs what these tests run: each stack's package is named in .ci/install-interop-tools."""
    script = (HERE.parents[1] / ".ci" / "install-interop-tools").read_text()
    for package in ("php-cli", "php-soap", "libsoap-lite-perl", "npm ci"):
        assert package in script
    lock = json.loads((HERE / "node" / "package-lock.json").read_text())
    pinned = json.loads((HERE / "node" / "package.json").read_text())["dependencies"]["soap"]
    assert lock["packages"]["node_modules/soap"]["version"] == pinned


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
