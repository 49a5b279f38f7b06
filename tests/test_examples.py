"""The sample programs under examples/, run as a user would against the local Prosody."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fastxmpp
from fastxmpp.xml import E, Element

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MUC = "http://jabber.org/protocol/muc"
BODY = "{jabber:client}body"


def server_args(server, jid: str) -> list[str]:
    return ["--jid", jid, "--host", server.host, "--port", str(server.c2s_port),
            "--ca-file", server.ca_file, "--timeout", "15"]  # fmt: skip


def example(name: str, *args: str, password: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FASTXMPP_PASSWORD": password}
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return out


def connect(server, account, **options):
    return fastxmpp.connect(
        account.jid, account.password, host=server.host, port=server.c2s_port,
        ca_file=server.ca_file, timeout=10, **options,
    )  # fmt: skip


def test_send_message(prosody, prosody_account):
    alice, bob = prosody_account("exsend"), prosody_account("exsendto")
    with connect(prosody, bob) as conn:
        inbox: queue.Queue = queue.Queue()
        conn.on("message", inbox.put)
        proc = example(
            "send_message.py", *server_args(prosody, alice.jid), str(conn.jid), "one message",
            password=alice.password,
        )  # fmt: skip
        assert "sent" in finish(proc)
        assert inbox.get(timeout=10).body == "one message"


def test_send_message_reports_a_wrong_password(prosody, prosody_account):
    alice = prosody_account("exbad")
    proc = example("send_message.py", *server_args(prosody, alice.jid), "x@localhost", "hi",
                   password="wrong")  # fmt: skip
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().startswith("send_message:") and "Traceback" not in err


def test_roster(prosody, prosody_account):
    alice = prosody_account("exroster")
    with connect(prosody, alice, priority=None) as conn:
        conn.roster.add("juliet@localhost", name="Juliet", groups=["Capulet"])
        conn.roster.add("romeo@localhost")
    out = finish(example("roster.py", *server_args(prosody, alice.jid), password=alice.password))
    assert "has 2 contact(s)" in out
    assert "juliet@localhost 'Juliet': none [Capulet]" in out
    assert "romeo@localhost: none [no group]" in out


def test_simple_client_sends_and_prints(prosody, prosody_account):
    alice, bob = prosody_account("exsimple"), prosody_account("exsimplebob")
    with connect(prosody, bob) as conn:
        inbox: queue.Queue = queue.Queue()
        conn.on("message", inbox.put)
        proc = example(
            "simple_client.py", *server_args(prosody, alice.jid), "--to", str(conn.jid),
            "--text", "hi bob", "--for", "20", "--resource", "simple",
            password=alice.password,
        )  # fmt: skip
        try:
            assert proc.stdout.readline().startswith("connected as")
            msg = inbox.get(timeout=15)
            assert msg.body == "hi bob"
            msg.reply("hi alice")
            deadline = time.monotonic() + 15
            seen = ""
            while "hi alice" not in seen and time.monotonic() < deadline:
                seen += proc.stdout.readline()
            assert f"{conn.jid} (chat): hi alice" in seen
        finally:
            proc.terminate()
            proc.wait(10)


def test_echo_bot_answers_and_accepts_subscriptions(prosody, prosody_account):
    bot, user = prosody_account("exbot"), prosody_account("exuser")
    proc = example("echo_bot.py", *server_args(prosody, bot.jid), "--limit", "2", "--for", "60",
                   password=bot.password)  # fmt: skip
    try:
        assert proc.stdout.readline().startswith("echo bot online as")
        with connect(prosody, user) as conn:
            events = conn.events("subscribed", timeout=15)
            conn.subscribe(bot.jid)
            name, args = next(events)
            assert name == "subscribed" and args[0] == fastxmpp.JID(bot.jid)
            replies = conn.messages(timeout=15)
            conn.send_message(bot.jid, "echo me")
            conn.send_message(bot.jid, "and me")
            got = [next(replies).body, next(replies).body]
            assert got == ["echo me", "and me"]
        out = finish(proc)
    finally:
        proc.kill()
    assert out.count("echoed") == 2


def room_config(public: bool) -> Element:
    """The owner's room configuration form (XEP-0045 10.2): listed in disco or not."""
    form = E("{jabber:x:data}x", type="submit")
    for var, value in (
        ("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
        ("muc#roomconfig_publicroom", "1" if public else "0"),
    ):
        form.append(E("{jabber:x:data}field", E("{jabber:x:data}value", value), var=var))
    return E(f"{{{MUC}#owner}}query", form)


def enter(conn, room: str, nick: str) -> None:
    """Join a MUC room and wait for our own presence from it."""
    occupant = fastxmpp.JID(f"{room}/{nick}")
    with conn.events("presence_update", "presence_error", timeout=10) as events:
        stanza = Element("{jabber:client}presence", {"to": str(occupant)})
        stanza.append(E(f"{{{MUC}}}x"))
        conn.send(stanza)
        for name, args in events:
            assert name == "presence_update", f"could not join {room}: {args}"
            new = args[2]
            if new.jid == occupant and new.available:
                return


@pytest.mark.parametrize("rooms", [2])
def test_muc_scanner_lists_rooms_and_occupants(prosody, prosody_account, rooms):
    owner, guest, scanner = (prosody_account(p) for p in ("exowner", "exguest", "exscan"))
    service = prosody.muc_domain
    with connect(prosody, owner) as a, connect(prosody, guest) as b:
        for n in range(rooms):
            room = f"room{n}-{owner.username[-6:]}@{service}"
            enter(a, room, f"owner{n}")  # creates the room; the owner accepts the defaults
            configure = Element("{jabber:client}iq", {"type": "set", "to": room})
            configure.append(room_config(public=True))
            a.request(configure, timeout=10)
            enter(b, room, f"guest{n}")
        proc = example(
            "muc_scanner.py", *server_args(prosody, scanner.jid), "localhost",
            "--rate", "50", "--parallel", "2", password=scanner.password,
        )  # fmt: skip
        out = finish(proc)
    assert f"{service} (" in out and f"{rooms} room(s)" in out
    for n in range(rooms):
        # Prosody 0.12 announces the occupant count (muc#roominfo) but lists no occupants
        assert f"room{n}-{owner.username[-6:]}@{service}  'room{n}-" in out
    assert out.count(": 2 occupant(s)") == rooms and f"{2 * rooms} occupant(s)" in out
    assert "at most 2 in flight" in out or "at most 1 in flight" in out


def test_muc_scanner_throttle_bounds_requests_in_flight_and_rate():
    """The scanner's throttle: never more than ``parallel`` in flight or ``rate`` a second."""
    import importlib.util
    import threading
    from concurrent.futures import Future

    spec = importlib.util.spec_from_file_location("muc_scanner", EXAMPLES / "muc_scanner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    throttle = module.Throttle(rate=100.0, parallel=2)
    in_flight, peak, starts = 0, 0, []
    lock = threading.Lock()

    def request() -> Future:
        nonlocal in_flight, peak
        future: Future = Future()
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            starts.append(time.monotonic())

        def answer() -> None:
            nonlocal in_flight
            with lock:
                in_flight -= 1
            future.set_result(None)

        threading.Timer(0.05, answer).start()  # a slow server
        return future

    futures = [throttle.start("example.org", request) for _ in range(8)]
    for future in futures:
        future.result(5)
    assert peak == 2 and throttle.peak == 2 and throttle.started == 8
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.009  # 100/s: at least 10 ms apart (less a little clock slack)
