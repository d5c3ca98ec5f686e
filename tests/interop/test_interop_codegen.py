"""SOAP stacks that generate code from the published WSDL, against the real gateway: Perl SOAP::WSDL
(``wsdl2perl``), gSOAP (``wsdl2h`` + ``soapcpp2``, built with g++), Mono (``wsdl`` + ``mcs``) and JAX-WS
(``wsimport`` + ``javac``).

For each stack: generating from the running gateway's ``/v1/soap?wsdl`` succeeds and prints no warning
(the one exception, JAX-WS on SOAP 1.2 bindings, is named below), the generated code compiles, and a
small client on it (``perl/``, ``gsoap/``, ``mono/``, ``java/``) does insertRecord -> getRecord -> two
faults (an unknown Uuid, a wrong Apikey) over SOAP 1.1 and, where the stack has it, 1.2. The clients
print JSON with the values as the generated code read them; the assertions are here.

Each stack is generated and built once per module, then called once per SOAP version. Measured on this
project's machine (2 cores), generation + build + calls: SOAP::WSDL about 7 s, gSOAP 14 s (g++ of the
generated code is most of it), Mono 8 s, JAX-WS 15 s (wsimport, javac, and a JVM per client run); the
module about 45 s. An absent tool skips, unless ``GATEWAY_REQUIRE_SERVICES`` is set (CI installs them
with ``.ci/install-interop-tools``), where it fails.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from interop_common import DATA, local, require
from lxml import etree

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
STEP_TIMEOUT = 300
B64_DATA = base64.b64encode(json.dumps(DATA).encode()).decode()
JAXWS_CLASSPATH = "/usr/share/java/jaxws-rt.jar"  # Debian's jaxws; its manifest names the rest
# JAX-WS 2.x treats a SOAP 1.2 binding in a WSDL 1.1 document as an extension (-extension): it says so
# for the port, whatever the WSDL. Nothing else may be warned about.
WSIMPORT_ALLOWED = re.compile(r'^\[WARNING\] SOAP port "FlowizeSoap12": uses a non-standard SOAP 1\.2 binding\.$')


def _missing(tools: tuple[str, ...], package: str) -> str | None:
    absent = [tool for tool in tools if shutil.which(tool) is None]
    return f"{', '.join(absent)} not installed (Debian: {package})" if absent else None


def _sh(cmd: list[str], cwd: Path, what: str, timeout: int = STEP_TIMEOUT) -> str:
    """Run ``cmd``; its combined output, or a failure that shows it."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{what} exited {proc.returncode}: {' '.join(cmd)}\n{output}"
    return output


def _json(cmd: list[str], cwd: Path, what: str) -> dict:
    output = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert output.returncode == 0, f"{what} exited {output.returncode}:\n{output.stderr}\n{output.stdout}"
    try:
        return json.loads(output.stdout)
    except ValueError:
        pytest.fail(f"{what} printed no JSON:\nstdout: {output.stdout}\nstderr: {output.stderr}")


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"(?i)warn|error|violat|conform", line)]


def _record_id(stack: str, version: str) -> str:
    return f"{stack}-{version.replace('.', '')}-{uuid.uuid4().hex[:12]}"


def _assert_calls(out: dict, label: str, version: str, detail_keys: tuple[str, ...]) -> None:
    """insert -> get -> two faults, as the generated client read them."""
    steps = out["steps"]
    insert = steps["insert"]
    assert "fault" not in insert, (label, insert)
    result = insert["result"]
    assert (result["Code"], result["Id"], result["Error"]) == ("201", "created", "null"), (label, result)
    assert result["RequestIP"] == "127.0.0.1", (label, result)
    assert json.loads(base64.b64decode(result["Resource"])) == DATA, (label, result)

    get = steps["get"]
    assert "fault" not in get, (label, get)
    assert (get["result"]["Code"], get["result"]["Id"]) == ("200", "ok"), (label, get)
    assert json.loads(get["result"]["Resource"]) == DATA, (label, get)

    # The vendor's code and message, read through each stack's own fault API: SOAP 1.1 carries the code in
    # faultcode, SOAP 1.2 only in the detail item "code" (docs/soap-decisions.md, F1 and F5).
    for name, message in (("get_unknown", None), ("wrong_apikey", "The credentials are not correct.")):
        step = steps[name]
        assert "result" not in step, (label, name, step)
        fault = step["fault"]
        assert "unparsed" not in fault, (label, name, fault)
        if version == "1.1":
            assert local(fault["faultcode"]) == "404", (label, name, fault)
            assert fault["faultactor"], (label, name, fault)  # the request id
        else:
            assert local(fault["faultcode"]) == "Sender", (label, name, fault)
        assert fault["faultstring"], (label, name, fault)
        if message:
            assert fault["faultstring"] == message, (label, name, fault)
        expected = {"code": "404", "message": fault["faultstring"]}
        assert {key: fault["detail"].get(key) for key in detail_keys} == \
            {key: expected[key] for key in detail_keys}, (label, name, fault)


@pytest.fixture(scope="module")
def wsdl_url(_gateway_server) -> str:
    """The session gateway's WSDL (its soap:address is that gateway, so generated code calls it)."""
    return f"{_gateway_server.url}/v1/soap?wsdl"


@pytest.fixture(scope="module")
def endpoint(_gateway_server) -> str:
    return f"{_gateway_server.url}/v1/soap"


# -- Perl SOAP::WSDL -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def soap_wsdl_stubs(wsdl_url, tmp_path_factory) -> Path:
    require(_missing(("wsdl2perl", "perl"), "libsoap-wsdl-perl"), "Perl SOAP::WSDL")
    out = tmp_path_factory.mktemp("soap-wsdl")
    output = _sh(["wsdl2perl", "-b", str(out), "-mi", str(HERE / "perl" / "fault-typemap.pl"), wsdl_url],
                 out, "wsdl2perl")
    # It reports each class it writes ("Creating ..."); anything else is a warning or an error.
    noise = [line for line in output.splitlines() if line.strip() and not line.startswith("Creating ")]
    assert not noise, "wsdl2perl:\n" + output
    interface = out / "MyInterfaces" / "FlowizeService" / "FlowizeSoap11.pm"
    assert interface.exists(), sorted(p.name for p in out.rglob("*.pm"))
    _sh(["perl", "-I", str(out), "-c", str(interface)], out, "perl -c")
    return out


def test_soap_wsdl_stubs_insert_read_back_and_get_faults(soap_wsdl_stubs, endpoint, gateway_url):
    """SOAP::WSDL speaks SOAP 1.1 only (it generates no interface for the 1.2 port). Its generated
    typemaps know ``Fault/detail`` as a string, so the detail items are skipped (perl/fault-typemap.pl)
    and the vendor's code and message are read from faultcode and faultstring."""
    out = _json(["perl", str(HERE / "perl" / "flowize_client_wsdl.pl"), str(soap_wsdl_stubs), endpoint, B64_DATA,
                 _record_id("soapwsdl", "1.1")], HERE / "perl", "SOAP::WSDL client")
    _assert_calls(out, "SOAP::WSDL SOAP 1.1", "1.1", detail_keys=())


# -- gSOAP -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gsoap_client(wsdl_url, tmp_path_factory) -> Path:
    require(_missing(("wsdl2h", "soapcpp2", "g++"), "gsoap, libgsoap-dev, g++"), "gSOAP")
    if not Path("/usr/include/stdsoap2.h").exists():
        require("stdsoap2.h not installed (Debian: libgsoap-dev)", "gSOAP")
    out = tmp_path_factory.mktemp("gsoap")
    # -Nflowize: a proxy per binding (without it wsdl2h warns that it merged the two into one service).
    output = _sh(["wsdl2h", "-Nflowize", "-o", "flowize.h", wsdl_url], out, "wsdl2h")
    assert not _warnings(output), "wsdl2h:\n" + output
    output = _sh(["soapcpp2", "-j", "-C", "-x", "-I/usr/share/gsoap/import", "flowize.h"], out, "soapcpp2")
    assert not _warnings(output), "soapcpp2:\n" + output
    sources = ["soapC.cpp", "soapFlowizeSoap11BindingProxy.cpp", "soapFlowizeSoap12BindingProxy.cpp"]
    _sh(["g++", "-O0", "-o", "flowize_client", "-I.", str(HERE / "gsoap" / "flowize_client.cpp"), *sources,
         "-lgsoap++"], out, "g++")
    return out / "flowize_client"


def _gsoap_items(detail_xml: str | None) -> dict[str, str | None]:
    """gSOAP's literal detail text, as a key -> value dict."""
    if not detail_xml:
        return {}
    root = etree.fromstring(f"<detail>{detail_xml}</detail>")
    return {item.findtext("key"): item.findtext("value") for item in root.iter("item")}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_gsoap_client_inserts_reads_back_and_gets_faults(gsoap_client, endpoint, gateway_url, version):
    """gSOAP keeps an undeclared detail as one literal XML string: the first item, "code"."""
    out = _json([str(gsoap_client), endpoint, version, B64_DATA, _record_id("gsoap", version)], gsoap_client.parent,
                "gSOAP client")
    for name, step in out["steps"].items():
        assert step["envelope_version"] == (2 if version == "1.2" else 1), (version, name, step)
        if "fault" in step:
            step["fault"]["detail"] = _gsoap_items(step["fault"].pop("detail_xml"))
    _assert_calls(out, f"gSOAP SOAP {version}", version, detail_keys=("code",))


# -- Mono wsdl -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mono_clients(wsdl_url, tmp_path_factory) -> dict[str, Path]:
    require(_missing(("wsdl", "mcs", "mono"), "mono-devel"), "Mono's wsdl")
    out = tmp_path_factory.mktemp("mono")
    clients = {}
    for version, protocol, namespace in (("1.1", "SOAP", "Flowize11"), ("1.2", "SOAP12", "Flowize12")):
        proxy = f"{namespace}.cs"
        output = _sh(["wsdl", "-nologo", f"-protocol:{protocol}", f"-n:{namespace}", f"-out:{proxy}", wsdl_url],
                     out, f"wsdl -protocol:{protocol}")
        # wsdl lists WS-I Basic Profile violations and other problems under "There were some warnings".
        assert not _warnings(output), f"wsdl -protocol:{protocol}:\n" + output
        exe = out / f"FlowizeClient{namespace[-2:]}.exe"
        defines = ["-define:SOAP12"] if version == "1.2" else []
        _sh(["mcs", "-nologo", *defines, "-target:exe", f"-out:{exe}", "-r:System.Web.Services", "-r:System.Xml",
             str(HERE / "mono" / "FlowizeClient.cs"), proxy], out, "mcs")
        clients[version] = exe
    return clients


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_mono_client_inserts_reads_back_and_gets_faults(mono_clients, endpoint, gateway_url, version):
    out = _json(["mono", str(mono_clients[version]), endpoint, B64_DATA, _record_id("mono", version)],
                mono_clients[version].parent, "Mono client")
    assert out["soap_version"] == version
    _assert_calls(out, f"Mono SOAP {version}", version, detail_keys=("code", "message"))


# -- JAX-WS wsimport -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jaxws_classes(wsdl_url, tmp_path_factory) -> Path:
    require(_missing(("wsimport", "javac", "java"), "jaxws and a JDK"), "JAX-WS wsimport")
    if not Path(JAXWS_CLASSPATH).exists():
        require(f"{JAXWS_CLASSPATH} not installed (Debian: jaxws)", "JAX-WS wsimport")
    out = tmp_path_factory.mktemp("jaxws")
    (out / "src").mkdir()
    (out / "classes").mkdir()
    output = _sh(["wsimport", "-extension", "-Xnocompile", "-keep", "-s", "src", "-d", "classes", "-p", "flowize",
                  wsdl_url], out, "wsimport")
    warned = [line for line in output.splitlines() if line.startswith("[")]
    assert all(WSIMPORT_ALLOWED.match(line) for line in warned), "wsimport:\n" + output
    sources = sorted(str(p) for p in (out / "src" / "flowize").glob("*.java"))
    _sh(["javac", "-nowarn", "-encoding", "UTF-8", "-cp", JAXWS_CLASSPATH, "-d", "classes", *sources,
         str(HERE / "java" / "FlowizeClient.java")], out, "javac")
    return out / "classes"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_jaxws_client_inserts_reads_back_and_gets_faults(jaxws_classes, wsdl_url, gateway_url, version):
    """No wsdl:fault is declared, so JAX-WS raises SOAPFaultException, read through SAAJ."""
    out = _json(["java", "-cp", f"{jaxws_classes}:{JAXWS_CLASSPATH}", "FlowizeClient", wsdl_url, version, B64_DATA,
                 _record_id("jaxws", version)], jaxws_classes.parent, "JAX-WS client")
    _assert_calls(out, f"JAX-WS SOAP {version}", version, detail_keys=("code", "message"))
