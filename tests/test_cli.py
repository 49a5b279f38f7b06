"""The ``fastxmpp`` command, run as a user would (a subprocess) against the local Prosody."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

import fastxmpp
from fastxmpp.testing import ProsodyServer

ROOT = Path(__file__).resolve().parent.parent
BODY = "{jabber:client}body"


def run(*args: str, password: str | None = None, timeout: float = 60, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FASTXMPP_PASSWORD", None)
    env.pop("FASTXMPP_JID", None)
    if password is not None:
        env["FASTXMPP_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "fastxmpp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )


def conn_args(server: ProsodyServer, jid: str) -> list[str]:
    return [
        "--jid",
        jid,
        "--host",
        server.host,
        "--port",
        str(server.c2s_port),
        "--ca-file",
        server.ca_file,
        "--timeout",
        "15",
    ]


def one_error_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("fastxmpp"), result.stderr
    return lines[-1]


@pytest.fixture
def bob(prosody, prosody_account):
    """A listening account (a library connection) and the messages it gets."""
    account = prosody_account("clibob")
    conn = fastxmpp.connect(
        account.jid,
        account.password,
        host=prosody.host,
        port=prosody.c2s_port,
        ca_file=prosody.ca_file,
        timeout=10,
    )
    inbox: queue.Queue = queue.Queue()
    conn.on("message", inbox.put)
    yield conn, inbox
    conn.close()


def test_send_delivers_the_message(prosody, prosody_account, bob):
    alice = prosody_account("clialice")
    conn, inbox = bob
    result = run(
        "send", *conn_args(prosody, alice.jid), str(conn.jid), "hi from the shell",
        password=alice.password,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    msg = inbox.get(timeout=10)
    assert msg.findtext(BODY) == "hi from the shell"
    assert msg.get("type") == "chat"
    assert fastxmpp.JID(msg.get("from")).bare == fastxmpp.JID(alice.jid)


def test_send_repeat_sends_every_message(prosody, prosody_account, bob):
    alice = prosody_account("clirep")
    conn, inbox = bob
    result = run(
        "send", *conn_args(prosody, alice.jid), "--repeat", "50", "--type", "normal",
        "--subject", "load", str(conn.jid), "again", password=alice.password,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent 50 messages" in result.stdout
    got = [inbox.get(timeout=10) for _ in range(50)]
    assert {m.get("type") for m in got} == {"normal"}
    assert {m.findtext("{jabber:client}subject") for m in got} == {"load"}


def test_send_to_a_missing_user_fails_with_the_servers_reason(prosody, prosody_account):
    alice = prosody_account("clibounce")
    result = run(
        "send", *conn_args(prosody, alice.jid), prosody.jid("nobody-at-all") + "/x", "hello?",
        password=alice.password,
    )  # fmt: skip
    assert result.returncode == 1
    line = one_error_line(result)
    assert "refused" in line and "service-unavailable" in line


def test_wrong_password_is_one_clear_line(prosody, prosody_account):
    alice = prosody_account("cliwrong")
    result = run("send", *conn_args(prosody, alice.jid), "x@localhost", "hi", password="nope")
    assert result.returncode == 1
    assert "not-authorized" in one_error_line(result) or "auth" in one_error_line(result).lower()


def test_the_password_never_comes_from_argv(prosody, prosody_account):
    alice = prosody_account("clinopw")
    result = run("send", *conn_args(prosody, alice.jid), "x@localhost", "hi")  # no env, no tty
    assert result.returncode == 2
    assert "FASTXMPP_PASSWORD" in one_error_line(result)
    result = run("send", "--password", "secret", "x@localhost", "hi", password="p")
    assert result.returncode == 2  # there is no such option


def test_usage_errors_exit_2(prosody):
    assert run("send", "--port", "99999", "--jid", "a@b", "x@y", "hi").returncode == 2
    assert run("send", "--jid", "a@b", "x@y", "hi", "--repeat", "0").returncode == 2
    assert run("frobnicate").returncode == 2
    result = run("send", "x@localhost", "hi", password="p")
    assert result.returncode == 2 and "--jid" in one_error_line(result)


def test_bad_input_and_dead_servers_are_one_line(prosody):
    result = run("send", "--jid", "not a jid@@", "x@localhost", "hi", password="p")
    assert result.returncode == 1
    assert "JID" in one_error_line(result) or "jid" in one_error_line(result)
    closed = ["--host", "127.0.0.1", "--port", "1", "--timeout", "5"]
    result = run("send", "--jid", "a@localhost", *closed, "x@localhost", "hi", password="p")
    assert result.returncode == 1
    assert "could not connect" in one_error_line(result)


def test_listen_prints_incoming_messages(prosody, prosody_account):
    alice = prosody_account("clilisten")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FASTXMPP_PASSWORD": alice.password}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastxmpp", "listen", *conn_args(prosody, alice.jid),
         "--resource", "ears", "--count", "2", "--for", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening as"), first + proc.stderr.read()
        sender = prosody_account("clisender")
        with fastxmpp.connect(
            sender.jid, sender.password, host=prosody.host, port=prosody.c2s_port,
            ca_file=prosody.ca_file, timeout=10,
        ) as conn:  # fmt: skip
            conn.send_message(f"{alice.jid}/ears", "first line")
            conn.send_message(alice.jid, "second line", type="normal")  # bare JID: presence sent
            out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()  # after the "listening as" line read above
    assert len(lines) == 2, out
    assert lines[0].startswith("message chat from ") and lines[0].endswith(": first line")
    assert lines[1].startswith("message normal from ") and lines[1].endswith(": second line")


def test_listen_for_a_time_ends_cleanly(prosody, prosody_account):
    alice = prosody_account("clifor")
    result = run("listen", *conn_args(prosody, alice.jid), "--for", "0.5", password=alice.password)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("listening as")


def test_roster_shows_contacts(prosody, prosody_account):
    alice = prosody_account("cliroster")
    result = run("roster", *conn_args(prosody, alice.jid), password=alice.password)
    assert result.returncode == 0, result.stderr
    assert "empty" in result.stdout
    with fastxmpp.connect(
        alice.jid, alice.password, host=prosody.host, port=prosody.c2s_port,
        ca_file=prosody.ca_file, timeout=10,
    ) as conn:  # fmt: skip
        conn.roster.add("romeo@localhost", name="Romeo", groups=["Montague", "Friends"])
    result = run("roster", *conn_args(prosody, alice.jid), "--json", password=alice.password)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows == [
        {
            "jid": "romeo@localhost",
            "name": "Romeo",
            "subscription": "none",
            "ask": False,
            "groups": ["Friends", "Montague"],
        }
    ]
    table = run("roster", *conn_args(prosody, alice.jid), password=alice.password)
    assert "romeo@localhost" in table.stdout and "Friends, Montague" in table.stdout


def test_disco_and_version_of_the_server(prosody, prosody_account):
    alice = prosody_account("clidisco")
    info = run(
        "disco", "info", *conn_args(prosody, alice.jid), "localhost", password=alice.password
    )
    assert info.returncode == 0, info.stderr
    assert "identity: server/im" in info.stdout
    assert "feature: urn:xmpp:ping" in info.stdout
    items = run(
        "disco", "items", *conn_args(prosody, alice.jid), "localhost", "--json",
        password=alice.password,
    )  # fmt: skip
    assert items.returncode == 0, items.stderr
    assert "conference.localhost" in {row["jid"] for row in json.loads(items.stdout)}
    version = run("version", *conn_args(prosody, alice.jid), "localhost", password=alice.password)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("Prosody ")
    missing = run(
        "version", *conn_args(prosody, alice.jid), prosody.jid("nobody-here") + "/r",
        password=alice.password,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "service-unavailable" in one_error_line(missing)


def test_bench_quick_and_version_and_entry_points():
    result = run("bench", "--count", "2000", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "parse, StreamParser" in result.stdout and "serialize chat message" in result.stdout
    assert run("--version").stdout.strip() == f"fastxmpp {fastxmpp.__version__}"
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    if "fastxmpp" in scripts:  # installed (make test installs the package)
        assert scripts["fastxmpp"] == "fastxmpp.cli:run"


def test_progress_bar_draws_only_when_asked():
    import io

    from fastxmpp.cli import Progress

    out = io.StringIO()
    with Progress(10, "work", stream=out, enabled=True) as bar:
        for n in range(1, 11):
            bar.update(n)
            time.sleep(0.001)
    assert "10/10" in out.getvalue() and out.getvalue().endswith("\n")
    quiet = io.StringIO()
    with Progress(10, "work", stream=quiet) as bar:  # not a terminal: nothing
        bar.update(10)
    assert quiet.getvalue() == ""
