"""The multi-account Client against the local Prosody: one I/O thread for all accounts."""

from __future__ import annotations

import queue
import secrets
import threading
import time

import pytest
from helpers import wait_for
from proxy import FaultProxy

import fastxmpp
from fastxmpp import AuthenticationError, Disconnected, XMPPError
from fastxmpp.client import Account, Client
from fastxmpp.testing import ProsodyServer


def options(server: ProsodyServer, **extra):
    return {
        "host": server.host,
        "port": server.c2s_port,
        "ca_file": server.ca_file,
        "timeout": 20,
        **extra,
    }


def own_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("fastxmpp"))


def test_two_accounts_exchange_messages_and_events_carry_the_account(prosody, prosody_account):
    a, b = prosody_account("ca"), prosody_account("cb")
    got: queue.Queue = queue.Queue()
    added: list[Account] = []
    with Client(**options(prosody)) as client:
        client.on("message", lambda account, msg: got.put((account, msg)))
        client.on("account_added", added.append)
        alice = client.add_account(a.jid, a.password)
        bob = client.add_account(b.jid, b.password)
        assert alice.connected and bob.connected
        assert alice.connection.jid.bare == fastxmpp.JID(a.jid)
        assert len(client) == 2 and a.jid in client and client[b.jid] is bob
        alice.send_message(bob.connection.jid, "hello bob")
        bob.send_message(alice.connection.jid, "hello alice")
        seen = {}
        for _ in range(2):
            account, msg = got.get(timeout=10)
            seen[account.jid] = msg.findtext("{jabber:client}body")
        assert seen == {alice.jid: "hello alice", bob.jid: "hello bob"}
        assert wait_for(lambda: len(added) == 2)
        assert set(added) == {alice, bob}


def test_handlers_registered_later_reach_existing_accounts(prosody, prosody_account):
    a, b = prosody_account("la"), prosody_account("lb")
    with Client(**options(prosody)) as client:
        alice = client.add_account(a.jid, a.password)
        bob = client.add_account(b.jid, b.password)
        got: queue.Queue = queue.Queue()
        client.on("message", lambda account, msg: got.put(account), type="chat")
        alice.send_message(bob.connection.jid, "late handler")
        assert got.get(timeout=10) is bob


def test_inline_handlers_run_on_the_shared_io_thread(prosody, prosody_account):
    a, b = prosody_account("ia"), prosody_account("ib")
    with Client(**options(prosody)) as client:
        got: queue.Queue = queue.Queue()
        client.on(
            "message",
            lambda account, msg: got.put((account, msg.body, threading.current_thread().name)),
            inline=True,
        )
        with pytest.raises(ValueError, match="inline"):
            client.on("account_added", lambda account: None, inline=True)
        alice = client.add_account(a.jid, a.password)
        bob = client.add_account(b.jid, b.password)
        alice.send_message(bob.connection.jid, "inline")
        account, body, thread = got.get(timeout=10)
        assert (account, body) == (bob, "inline")
        assert thread == client._loop._thread.name


def test_a_failing_account_does_not_disturb_the_others(prosody, prosody_account):
    a, b = prosody_account("fa"), prosody_account("fb")
    failed: queue.Queue = queue.Queue()
    with Client(**options(prosody)) as client:
        client.on("login_failed", lambda account, error: failed.put((account, error)))
        alice = client.add_account(a.jid, a.password)
        with pytest.raises(AuthenticationError):
            client.add_account(b.jid, "wrong password")
        account, error = failed.get(timeout=10)
        assert account.jid == fastxmpp.JID(b.jid) and isinstance(error, AuthenticationError)
        assert b.jid not in client  # without reconnect a failed account is not kept
        # many at once: the bad ones are reported on their accounts, nothing raises
        c = prosody_account("fc")
        result = client.add_accounts({c.jid: c.password, prosody.jid("nobody-here"): "x"})
        assert result[fastxmpp.JID(c.jid)].connected
        bad = result[fastxmpp.JID(prosody.jid("nobody-here"))]
        assert not bad.connected and isinstance(bad.error, AuthenticationError)
        assert alice.connected
        got: queue.Queue = queue.Queue()
        client.on("message", lambda account, msg: got.put(account))
        result[fastxmpp.JID(c.jid)].send_message(alice.connection.jid, "still here?")
        assert got.get(timeout=10) is alice


def test_remove_account_logs_out_only_that_account(prosody, prosody_account):
    a, b = prosody_account("ra"), prosody_account("rb")
    removed: queue.Queue = queue.Queue()
    with Client(**options(prosody)) as client:
        client.on("account_removed", removed.put)
        alice = client.add_account(a.jid, a.password)
        bob = client.add_account(b.jid, b.password)
        conn = bob.connection
        assert client.remove_account(b.jid) is bob
        assert removed.get(timeout=10) is bob
        assert not conn.connected and conn.disconnect_reason is None  # a clean close
        assert b.jid not in client and len(client) == 1
        with pytest.raises(Disconnected):
            bob.send_message(alice.connection.jid, "gone")
        with pytest.raises(KeyError):
            client.remove_account(b.jid)
        assert alice.connected


def test_bad_arguments_are_refused_clearly(prosody, prosody_account):
    a = prosody_account("ba")
    with pytest.raises(ValueError):
        Client(login_workers=0)
    with Client(**options(prosody)) as client:
        with pytest.raises(ValueError, match="unknown stanza kind or event"):
            client.on("mesage", print)
        with pytest.raises(TypeError):
            client.on("message", "not callable")
        with pytest.raises(ValueError):
            client.on("account_added", print, type="chat")
        client.add_account(a.jid, a.password)
        with pytest.raises(ValueError, match="already"):
            client.add_account(a.jid, a.password)
        with pytest.raises(fastxmpp.InvalidJID):
            client.add_account("not a jid@@", "x")
    with pytest.raises(XMPPError, match="closed"):
        client.add_account(a.jid, a.password)


def test_a_dropped_account_reconnects_and_the_others_stay(prosody, prosody_account):
    a, b = prosody_account("da"), prosody_account("db")
    added: queue.Queue = queue.Queue()
    reconnecting: queue.Queue = queue.Queue()
    disconnected: queue.Queue = queue.Queue()
    with (
        FaultProxy(prosody.host, prosody.c2s_port) as proxy,
        Client(reconnect=True, **options(prosody)) as client,
    ):
        client.on("account_added", added.put)
        client.on("reconnecting", lambda account, delay: reconnecting.put((account, delay)))
        client.on("disconnected", lambda account, reason: disconnected.put((account, reason)))
        alice = client.add_account(a.jid, a.password)  # directly to the server
        bob = client.add_account(b.jid, b.password, port=proxy.port)  # through the proxy
        assert added.get(timeout=10) is alice and added.get(timeout=10) is bob
        first = bob.connection
        proxy.cut()
        account, reason = disconnected.get(timeout=10)
        assert account is bob and isinstance(reason, ConnectionError)
        account, delay = reconnecting.get(timeout=10)
        assert account is bob and 0 < delay <= 1.0
        assert added.get(timeout=15) is bob  # logged in again through the proxy
        assert bob.connected and bob.connection is not first and bob.error is None
        assert alice.connected
        got: queue.Queue = queue.Queue()
        client.on("message", lambda account, msg: got.put(account))
        alice.send_message(bob.connection.jid, "welcome back")
        assert got.get(timeout=10) is bob


def test_close_leaves_no_threads_behind(prosody, prosody_account):
    before = set(threading.enumerate())
    a = prosody_account("ta")
    client = Client(**options(prosody))
    client.add_account(a.jid, a.password)
    client.close()
    client.close()  # twice is fine
    assert wait_for(
        lambda: not [t for t in threading.enumerate() if t not in before and t.is_alive()]
    )


MANY = 200


def test_one_process_holds_many_accounts_on_one_io_thread(prosody):
    """The issue's check: at least 200 accounts logged in at once in one process."""
    password = secrets.token_urlsafe(8)
    names = [f"many-{secrets.token_hex(4)}-{i}" for i in range(MANY)]
    jids = [prosody.add_account(name, password) for name in names]
    before = set(threading.enumerate())
    received: queue.Queue = queue.Queue()
    with Client(login_workers=16, **options(prosody)) as client:
        client.on("message", lambda account, msg: received.put(account.jid))
        start = time.perf_counter()
        accounts = client.add_accounts({jid: password for jid in jids})
        took = time.perf_counter() - start
        errors = [a.error for a in accounts.values() if not a.connected]
        assert not errors, errors[:3]
        assert len(client) == MANY
        # one I/O thread and one callback thread for all of them (plus the login pool)
        new = [t.name for t in threading.enumerate() if t not in before]
        assert new.count("fastxmpp-io client") == 1
        assert new.count("fastxmpp-callbacks client") == 1
        assert len(new) <= 2 + 16, new
        # every account can still talk: each sends one message to the next one
        ring = list(accounts.values())
        for sender, target in zip(ring, ring[1:] + ring[:1], strict=True):
            sender.send_message(target.connection.jid, "ring")
        got = {received.get(timeout=30) for _ in range(MANY)}
        assert got == {fastxmpp.JID(j) for j in jids}
        print(f"\n{MANY} accounts logged in in {took:.2f} s")
