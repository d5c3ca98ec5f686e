"""Secrets from files (``GATEWAY_X_FILE``) and the secret key setting, and the CLI that reads secrets
without putting them on the command line: ``flowgate secret-key`` and ``flowgate consumer add``."""

from __future__ import annotations

import dataclasses
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from gateway.cli import main
from gateway.config import Settings, SettingsError
from gateway.store import Store
from gateway.store.consumers import ConsumerRepository
from gateway.store.crypto import PREFIX, SecretBox

SECRET_FIELDS = [f.name for f in dataclasses.fields(Settings) if f.metadata.get("secret")]
URLS_WITH_PASSWORDS = {"database_url": "postgresql+psycopg://flowgate:s3cret-pw@db.internal:5432/flowgate",
                       "redis_url": "redis://:s3cret-pw@cache.internal:6379/0",
                       "rest_rate_limit_storage": "redis://:s3cret-pw@cache.internal:6379/1"}


def secret_file(tmp_path, text: str | bytes, name: str = "secret"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


# -- GATEWAY_X_FILE -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SECRET_FIELDS)
def test_every_secret_setting_can_be_read_from_a_file(tmp_path, name):
    value = SecretBox.generate_key() if name == "secret_key" else "from-a-file"
    s = Settings.load(environ={f"GATEWAY_{name.upper()}_FILE": secret_file(tmp_path, value + "\n")})
    assert getattr(s, name) == value


@pytest.mark.parametrize("name", sorted(URLS_WITH_PASSWORDS))
def test_a_url_with_a_password_can_be_read_from_a_file_and_is_shown_masked(tmp_path, name):
    url = URLS_WITH_PASSWORDS[name]
    s = Settings.load(environ={f"GATEWAY_{name.upper()}_FILE": secret_file(tmp_path, url + "\n")})
    assert getattr(s, name) == url
    shown = s.redacted()[name]
    assert "s3cret-pw" not in shown
    assert url.split("@")[1] in shown  # the host, port and database still show
    assert "s3cret-pw" not in repr(s)


def test_one_trailing_newline_is_stripped_and_no_more(tmp_path):
    for text, expected in (("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), ("s3cret", "s3cret"),
                           ("s3cret\n\n", "s3cret\n"), (" s3cret \n", " s3cret ")):
        s = Settings.load(environ={"GATEWAY_FLOWIZE_API_KEY_FILE": secret_file(tmp_path, text)})
        assert s.flowize_api_key == expected, repr(text)


def test_a_setting_and_its_file_together_are_an_error(tmp_path):
    with pytest.raises(SettingsError, match="GATEWAY_FLOWCODE_API_KEY and GATEWAY_FLOWCODE_API_KEY_FILE"):
        Settings.load(environ={"GATEWAY_FLOWCODE_API_KEY": "k",
                               "GATEWAY_FLOWCODE_API_KEY_FILE": secret_file(tmp_path, "k2")})


def test_an_unreadable_file_names_the_setting_never_the_content(tmp_path):
    for path in (str(tmp_path / "missing"), str(tmp_path)):  # absent; a directory
        with pytest.raises(SettingsError, match="GATEWAY_FLOWIZE_CLIENT_SECRET_FILE: cannot read") as info:
            Settings.load(environ={"GATEWAY_FLOWIZE_CLIENT_SECRET_FILE": path})
        assert path in str(info.value)
    binary = secret_file(tmp_path, b"\xffsecret-bytes-\xfe")
    with pytest.raises(SettingsError, match="GATEWAY_FLOWIZE_CLIENT_SECRET_FILE") as info:
        Settings.load(environ={"GATEWAY_FLOWIZE_CLIENT_SECRET_FILE": binary})
    assert "secret-bytes" not in str(info.value)


def test_files_work_from_the_yaml_file_and_the_environment_wins(tmp_path):
    cfg = tmp_path / "flowgate.yaml"
    cfg.write_text(f"exaroutes_api_key_file: {secret_file(tmp_path, 'from-yaml-file', 'a')}\n"
                   "flowcode_api_key: from-yaml\n")
    s = Settings.load(environ={"GATEWAY_CONFIG": str(cfg),
                               "GATEWAY_FLOWCODE_API_KEY_FILE": secret_file(tmp_path, "from-env-file", "b")})
    assert (s.exaroutes_api_key, s.flowcode_api_key) == ("from-yaml-file", "from-env-file")
    # only secret settings have a file form
    assert Settings.load(environ={"GATEWAY_HOST_FILE": secret_file(tmp_path, "10.0.0.1")}).host == "127.0.0.1"
    cfg.write_text(f"host_file: {secret_file(tmp_path, '10.0.0.1')}\n")
    with pytest.raises(SettingsError, match="host_file"):
        Settings.load(environ={"GATEWAY_CONFIG": str(cfg)})


# -- the secret key -----------------------------------------------------------------------------------
def test_secret_key_is_validated_and_masked():
    key = SecretBox.generate_key()
    s = Settings.load(environ={"GATEWAY_SECRET_KEY": key})
    assert s.secret_key == key and key not in str(s.redacted()) and key not in repr(s)
    with pytest.raises(SettingsError, match="GATEWAY_SECRET_KEY") as info:
        Settings.load(environ={"GATEWAY_SECRET_KEY": "not-a-fernet-key"})
    assert "not-a-fernet-key" not in str(info.value)


def test_flowgate_secret_key_prints_a_usable_key(capsys):
    assert main(["secret-key"]) == 0
    key = capsys.readouterr().out.strip()
    box = SecretBox(Settings.load(environ={"GATEWAY_SECRET_KEY": key}).secret_key)
    assert box.open(box.seal("x")) == "x"


# -- flowgate consumer add: secrets on standard input or from a file, never on argv --------------------
def run_cli(data_dir, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, check=False, env=env)


def stored(data_dir, name: str):
    settings = Settings(data_dir=str(data_dir))
    store = Store(settings.effective_database_url)
    try:
        consumer = ConsumerRepository(store, SecretBox.from_settings(settings)).by_name(name)
        with store.engine.connect() as conn:
            raw = conn.exec_driver_sql("SELECT upstream_api_key, upstream_client_secret FROM rest_consumers "
                                       "WHERE name = ?", (name,)).one()
        return consumer, raw
    finally:
        store.dispose()


def test_a_literal_secret_on_the_command_line_is_refused(tmp_path, capsys):
    for flag in ("--upstream-api-key", "--upstream-client-secret"):
        assert main(["consumer", "add", "acme", flag, "hunter2", "--upstream-client-id", "id"]) == 2
        err = capsys.readouterr().err
        assert f"{flag} -" in err and f"{flag}-file" in err and "hunter2" not in err


def test_secrets_piped_on_standard_input_one_per_line(tmp_path):
    done = run_cli(tmp_path, "consumer", "add", "acme", "--upstream-style", "oauth", "--upstream-api-key", "-",
                   "--upstream-client-id", "client-1", "--upstream-client-secret", "-",
                   stdin="api-key-from-stdin\nclient-secret-from-stdin\n")
    assert done.returncode == 0, done.stderr
    assert "api-key-from-stdin" not in done.stdout + done.stderr
    consumer, raw = stored(tmp_path, "acme")
    assert (consumer.upstream_api_key, consumer.upstream_client_secret) == ("api-key-from-stdin",
                                                                            "client-secret-from-stdin")
    assert all(value.startswith(PREFIX) for value in raw)


def test_a_secret_from_a_file(tmp_path):
    path = secret_file(tmp_path, "api-key-from-file\n", "key.txt")
    done = run_cli(tmp_path, "consumer", "add", "filed", "--upstream-api-key-file", path, "--upstream-app-key", "app")
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path, "filed")[0].upstream_api_key == "api-key-from-file"
    both = run_cli(tmp_path, "consumer", "add", "both", "--upstream-api-key", "-", "--upstream-api-key-file", path,
                   stdin="x\n")
    assert both.returncode == 2 and "not both" in both.stderr
    missing = run_cli(tmp_path, "consumer", "add", "gone", "--upstream-api-key-file", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    empty = run_cli(tmp_path, "consumer", "add", "empty", "--upstream-api-key", "-", stdin="")
    assert empty.returncode == 2 and "empty" in empty.stderr


def test_on_a_terminal_the_secret_is_asked_for_without_echo(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_DATA_DIR"] = str(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session of its own, the pty its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "gateway.cli", "consumer", "add", "typed",
                                   "--upstream-api-key", "-", "--upstream-app-key", "app"], env)
    deadline = time.monotonic() + 60

    def read() -> bytes:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"no answer from the command; so far: {seen!r}")
        try:
            return os.read(fd, 1024)
        except OSError:  # the child exited and closed the terminal
            return b""

    seen = b""
    while b"upstream api key:" not in seen:
        seen += read() or b"<eof>"
        assert b"<eof>" not in seen, seen
    os.write(fd, b"typed-secret\n")
    while chunk := read():
        seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"typed-secret" not in seen  # not echoed
    assert stored(tmp_path, "typed")[0].upstream_api_key == "typed-secret"
