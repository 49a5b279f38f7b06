"""The connection against a scripted server that misbehaves on purpose (plain text, loopback)."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import wait_for

import fastxmpp
from fastxmpp import ConnectionFailed, Disconnected, StreamError, Timeout
from fastxmpp.testing import ScriptedServer
from fastxmpp.xml import StreamOpen

STREAM_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    " xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='x' version='1.0'>"
)


def plain(server: ScriptedServer, **extra):
    return {"host": server.host, "port": server.port, "tls": "disabled", "timeout": 5, **extra}


def session_then(action):
    """A script: log the client in, run ``action(link)``, then read until the client leaves.

    Roster requests get an empty roster, as from an IM server: ``fastxmpp.connect()`` (an
    IMConnection) fetches the roster before it returns.
    """

    def script(link):
        link.login()
        action(link)
        for item in link.stanzas():  # the client's close is answered, as servers do
            if item.tag == "{jabber:client}iq" and item.find("{jabber:iq:roster}query"):
                link.send(
                    f"<iq type='result' id='{item.get('id')}'>"
                    "<query xmlns='jabber:iq:roster'/></iq>"
                )

    return script


def test_garbage_from_the_server_ends_the_session_and_keeps_what_came_before():
    def action(link):
        link.send("<message from='x@localhost'><body>kept</body></message><presence><</presence>")

    with ScriptedServer(session_then(action)) as server:
        conn = fastxmpp.Connection("alice@localhost", "pw", **plain(server))
        got, reasons = [], []
        conn.on("message", lambda m: got.append(m.findtext("{jabber:client}body")))
        conn.on("disconnected", reasons.append)
        conn.connect()
        assert wait_for(lambda: reasons)
        conn.close()
    assert got == ["kept"]
    assert isinstance(reasons[0], StreamError) and reasons[0].condition == "not-well-formed"
    assert not reasons[0].by_peer


def test_a_stream_error_from_the_server():
    def action(link):
        link.send(
            "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "</stream:error></stream:stream>"
        )

    with ScriptedServer(session_then(action)) as server:
        conn = fastxmpp.Connection("alice@localhost", "pw", **plain(server))
        errors, reasons = [], []
        conn.on("stream_error", errors.append)
        conn.on("disconnected", reasons.append)
        conn.connect()
        assert wait_for(lambda: reasons)
        conn.close()
    assert errors and errors[0].condition == "conflict" and errors[0].by_peer
    assert reasons[0] is errors[0]


def test_the_server_closing_the_stream():
    with ScriptedServer(session_then(lambda link: link.send("</stream:stream>"))) as server:
        conn = fastxmpp.Connection("alice@localhost", "pw", **plain(server))
        reasons = []
        conn.on("disconnected", reasons.append)
        conn.connect()
        assert wait_for(lambda: reasons)
        assert isinstance(reasons[0], Disconnected)
        conn.close()


def test_see_other_host_is_followed():
    with ScriptedServer(session_then(lambda link: None)) as target:

        def redirect(link):
            link.expect(StreamOpen)
            link.send(
                STREAM_HEADER + "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:"
                f"xmpp-streams'>127.0.0.1:{target.port}</see-other-host></stream:error>"
            )

        with ScriptedServer(redirect) as first:
            with fastxmpp.connect("alice@localhost", "pw", **plain(first)) as conn:
                assert conn.connected and conn.jid.resource == "scripted"


def test_endless_redirects_are_cut_short():
    servers: list[ScriptedServer] = []

    def redirect(link):
        link.expect(StreamOpen)
        link.send(
            STREAM_HEADER + "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:"
            f"xmpp-streams'>127.0.0.1:{servers[0].port}</see-other-host></stream:error>"
        )

    with ScriptedServer(redirect) as server:
        servers.append(server)
        with pytest.raises(ConnectionFailed, match="redirected"):
            fastxmpp.connect("alice@localhost", "pw", **plain(server))


def test_a_silent_server_times_out():
    release = threading.Event()

    def silent(link):
        release.wait(10)

    with ScriptedServer(silent) as server:
        before = time.monotonic()
        with pytest.raises(Timeout):
            fastxmpp.connect("alice@localhost", "pw", **plain(server, timeout=0.5))
        assert time.monotonic() - before < 3
        release.set()


def test_a_server_that_hangs_up_during_login():
    def hang_up(link):
        link.expect(StreamOpen)

    with ScriptedServer(hang_up) as server:
        with pytest.raises(Disconnected):
            fastxmpp.connect("alice@localhost", "pw", **plain(server))


def test_plain_text_needs_the_explicit_opt_out():
    """Against a server without STARTTLS, the default refuses to log in in plain text."""

    def no_tls(link):
        link.login()

    with ScriptedServer(no_tls) as server:
        opts = plain(server)
        del opts["tls"]
        with pytest.raises(fastxmpp.TLSError, match="STARTTLS"):
            fastxmpp.connect("alice@localhost", "pw", **opts)


def test_missing_types_count_as_rfc_6121_says():
    """A message without type is 'normal', a presence without type 'available'."""

    def action(link):
        link.send(
            "<message from='x@localhost'><body>n</body></message><presence from='x@localhost'/>"
        )

    with ScriptedServer(session_then(action)) as server:
        conn = fastxmpp.Connection("alice@localhost", "pw", **plain(server))
        seen = []
        conn.on("message", lambda m: seen.append("normal"), type="normal")
        conn.on("message", lambda m: seen.append("chat"), type="chat")
        conn.on("presence", lambda p: seen.append("available"), type="available")
        conn.on("presence", lambda p: seen.append("any presence"))
        with pytest.raises(ValueError):
            conn.on("iq", print)  # iq handlers answer requests: type and namespace needed
        conn.connect()
        assert wait_for(lambda: len(seen) == 3)
        conn.close()
    assert seen == ["normal", "any presence", "available"]
