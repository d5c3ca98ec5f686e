"""What a production install gets, and what importing the gateway does to the process.

* ``pip install flowgate`` (no extra) must import and serve the gateway: segno and Pillow are the
  sandbox's (the ``sandbox`` extra), defusedxml the tests' (``dev``). Each check runs in a fresh
  interpreter where those modules cannot be imported, as in a venv without them.
* ``flowgate serve`` in embedded mode, and ``flowgate sandbox``, say in one line which extra is missing.
* Importing the app or the CLI loads no metrics library: the multiprocess folder may be chosen later
  (gateway/metrics.py), and is honoured by the first metric recorded.
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import free_port

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
EXTRAS_ONLY = ("segno", "PIL", "defusedxml")
BLOCK = (f"import sys\n_BLOCKED = {EXTRAS_ONLY!r}\n"
         "for _name in _BLOCKED:\n    sys.modules[_name] = None  # import fails, as when not installed\n")


def _python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), **env})


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_gateway_module_outside_the_sandbox_imports_an_extra_only_package():
    offenders = {str(path.relative_to(ROOT)): sorted(_top_level_imports(path) & set(EXTRAS_ONLY))
                 for path in GATEWAY.rglob("*.py") if "sandbox" not in path.relative_to(GATEWAY).parts}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_setup_cfg_keeps_the_extra_only_packages_out_of_a_production_install():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")

    def names(value: str) -> set[str]:
        lines = (ln.split("#")[0].strip() for ln in value.splitlines())
        return {ln.split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower() for ln in lines if ln}

    required = names(cfg["options"]["install_requires"])
    extras = cfg["options.extras_require"]
    assert not required & {"segno", "pillow", "defusedxml"}
    assert {"segno", "pillow"} <= names(extras["sandbox"])
    assert {"segno", "pillow", "defusedxml"} <= names(extras["dev"])  # make install / make run / make test


def test_the_gateway_imports_and_serves_without_the_extras(tmp_path):
    done = _python("""
        import json
        import os
        from gateway.app import create_app
        import gateway.cli, gateway.jobs.worker, gateway.server  # noqa: F401
        from gateway.config import Settings

        client = create_app(Settings(data_dir=os.environ["GATEWAY_DATA_DIR"])).test_client()
        answers = {path: client.get(path).status_code for path in ("/healthz", "/readyz", "/openapi.json", "/v1/soap?wsdl")}
        print(json.dumps(answers))
    """, tmp_path)
    assert done.returncode == 0, done.stderr  # an ImportError of an extra-only package ends here
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers == {"/healthz": 200, "/readyz": 200, "/openapi.json": 200, "/v1/soap?wsdl": 200}


@pytest.mark.parametrize("command", ["serve", "sandbox"])
def test_the_sandbox_without_its_extra_is_a_one_line_error_naming_it(tmp_path, command):
    done = _python(f"""
        from gateway.cli import main
        sys.exit(main([{command!r}]))
    """, tmp_path, GATEWAY_PORT=str(free_port()), GATEWAY_SANDBOX_PORT=str(free_port()), GATEWAY_EMBEDDED="1",
        GATEWAY_WORKER_CLASS="gthread")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "pip install 'flowgate[sandbox]'" in done.stderr, done.stderr
    assert not list(tmp_path.glob("*.db"))  # refused before anything was set up


def test_importing_the_app_and_cli_loads_no_metrics_library_and_the_folder_set_later_is_used(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    done = _python(f"""
        import os
        import gateway.app, gateway.cli, gateway.jobs.worker  # noqa: F401
        assert "prometheus_client" not in sys.modules, "imported at import time"
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(folder)!r}  # chosen after every import, as cmd_serve does
        from gateway import metrics
        metrics.observe_upstream("flowize", "GET", "200", 0.01)
        print(metrics.render_metrics()[0].decode())
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'flowgate_upstream_requests_total{method="GET",outcome="200",vendor="flowize"} 1.0' in done.stdout
    assert list(folder.glob("*.db"))  # the numbers went to the shared folder (multiprocess mode)
