"""Flowgate installs and serves SOAP on the newer Pythons setup.cfg claims, not only on the one the
suite runs on.

For each of Python 3.12 and 3.13 found on the machine: a fresh virtualenv, ``pip install`` of this
tree (install_requires only, from pip's cache once warm), then, in that interpreter, a gateway app
answers the WSDL and a SOAP getRecord against the session's sandbox (served by this process, on
loopback), and the ``flowgate`` script prints its help. What broke there before: Spyne 2.14's own
copy of six cannot import on 3.12 (gateway/_compat.py), and Spyne imports ``cgi``, gone in 3.13
(the legacy-cgi dependency). An absent interpreter is a skip that says so.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from support import vendor_urls

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# What `pip install .` reads (the Docker build context's allowlist, .dockerignore).
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "gateway", "wsdl")
VERSIONS = ("3.12", "3.13")
INSTALL_SECONDS = 240   # a cold pip cache downloads every wheel; warm, it is well under a minute

GET_RECORD = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize">'
    "<soapenv:Body><mym:getRecord><input>"
    "<AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject>"
    "<DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject>"
    "</input></mym:getRecord></soapenv:Body></soapenv:Envelope>")

SMOKE = textwrap.dedent("""
    import json, os, sys
    from gateway.app import create_app
    from gateway.config import Settings

    urls = json.loads(os.environ["VENDOR_URLS"])
    client = create_app(Settings(data_dir=os.environ["DATA_DIR"], **urls)).test_client()
    wsdl = client.get("/v1/soap?wsdl")
    reply = client.post("/v1/soap", data=os.environ["ENVELOPE"],
                        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
    print(json.dumps({"python": list(sys.version_info[:2]),
                      "wsdl": [wsdl.status_code, wsdl.get_data(as_text=True)],
                      "soap": [reply.status_code, reply.get_data(as_text=True)]}))
""")


def interpreter(version: str) -> str | None:
    """A working ``pythonX.Y``: on PATH, else a pyenv build (a pyenv shim on PATH may exit 127 when
    that version is not selected, so each candidate is asked its version)."""
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [shutil.which(f"python{version}"),
                  *sorted(glob.glob(os.path.join(pyenv, "versions", f"{version}.*", "bin", "python")), reverse=True)]
    for candidate in filter(None, candidates):
        try:
            asked = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            continue
        if asked.returncode == 0 and asked.stdout.strip() == version:
            return candidate
    return None


def run(argv: list[str], timeout: float, **kw) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    assert done.returncode == 0, f"{' '.join(argv[:4])}... exited {done.returncode}:\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-3000:]}"
    return done


@pytest.mark.parametrize("version", VERSIONS)
def test_installs_and_serves_soap_on(version, tmp_path, sandbox_url):
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} here (neither python{version} on PATH nor a pyenv build)")
    started = time.monotonic()
    # A copy of the tree, so pip's in-tree build leaves no build/ or egg-info behind in the checkout.
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)], timeout=60)
    bin_dir = venv / "bin"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PYTHONPATH", None)
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)], timeout=INSTALL_SECONDS, env=env)
    installed = time.monotonic()

    smoke_env = {**env, "DATA_DIR": str(tmp_path / "var"), "VENDOR_URLS": json.dumps(vendor_urls(sandbox_url)),
                 "ENVELOPE": GET_RECORD}
    done = run([str(bin_dir / "python"), "-c", SMOKE], timeout=60, env=smoke_env, cwd=tmp_path)
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["python"] == [int(part) for part in version.split(".")]
    wsdl_status, wsdl = answers["wsdl"]
    assert wsdl_status == 200 and "getRecord" in wsdl and "soap:address" in wsdl
    soap_status, soap = answers["soap"]
    assert soap_status == 200, soap
    assert "getRecordResponse" in soap and "<Code>200</Code>" in soap and "Fault" not in soap, soap
    helped = run([str(bin_dir / "flowgate"), "--help"], timeout=30, env=env, cwd=tmp_path)
    assert "COMMANDS" in helped.stdout
    print(f"Python {version}: venv and install {installed - started:.1f} s, "
          f"smoke {time.monotonic() - installed:.1f} s")
