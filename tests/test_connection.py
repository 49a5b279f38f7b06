"""The threaded connection against a real server: Prosody on loopback, started by the suite."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from proxy import FaultProxy

import fastxmpp
from fastxmpp import (
    AuthenticationError,
    CertificateError,
    ConnectionFailed,
    Disconnected,
    IQError,
    StanzaError,
    Timeout,
    XMPPError,
)
from fastxmpp.testing import ProsodyServer
from fastxmpp.xml import E, Element, iq, presence

BODY = "{jabber:client}body"
VERSION_NS = "jabber:iq:version"


def options(server: ProsodyServer, **extra):
    return {
        "host": server.host,
        "port": server.c2s_port,
        "ca_file": server.ca_file,
        "timeout": 10,
        **extra,
    }


@pytest.fixture
def pair(prosody, prosody_account):
    """Two logged-in accounts that have sent initial presence (so they get bare-JID mail)."""
    conns = []
    for prefix in ("a", "b"):
        account = prosody_account(prefix)
        conn = fastxmpp.connect(account.jid, account.password, **options(prosody))
        conn.send(presence())
        conns.append(conn)
    time.sleep(0.1)  # let the server see the presences before tests send to bare JIDs
    yield conns
    for conn in conns:
        conn.close()


def no_fastxmpp_threads(before: set[threading.Thread]) -> bool:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        extra = [
            t for t in threading.enumerate() if t not in before and t.name.startswith("fastxmpp")
        ]
        if not extra:
            return True
        time.sleep(0.05)
    return False


# -- logging in -------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_login_with_each_mechanism_over_starttls(prosody, prosody_account, mechanism):
    account = prosody_account()
    seen = []
    conn = fastxmpp.Connection(
        account.jid, account.password, mechanisms=[mechanism], **options(prosody)
    )
    conn.on("authenticated", seen.append)
    with conn:
        assert conn.connected
        assert conn.jid.bare == fastxmpp.JID(account.jid)
        assert conn.jid.resource
    assert seen == [mechanism]
    assert not conn.connected


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
def test_login_with_channel_binding(prosody, prosody_account, mechanism):
    """Prosody 0.12 binds to tls-unique only, so only over TLS 1.2 does it offer -PLUS."""
    account = prosody_account()
    seen = []
    conn = fastxmpp.Connection(
        account.jid,
        account.password,
        mechanisms=[mechanism],
        tls_max_version="1.2",
        **options(prosody),
    )
    conn.on("authenticated", seen.append)
    with conn:
        assert conn.connected
    assert seen == [mechanism]


def test_the_strongest_mechanism_is_chosen_by_default(prosody, prosody_account):
    account = prosody_account()
    seen = []
    conn = fastxmpp.Connection(account.jid, account.password, **options(prosody))
    conn.on("authenticated", seen.append)
    with conn:
        pass
    assert seen == ["SCRAM-SHA-256"]  # TLS 1.3: Prosody 0.12 offers no -PLUS


def test_direct_tls(prosody, prosody_account):
    account = prosody_account()
    opts = options(prosody, port=prosody.direct_tls_port, tls="direct")
    with fastxmpp.connect(account.jid, account.password, **opts) as conn:
        assert conn.connected


def test_anonymous_login(prosody):
    opts = options(prosody)
    with fastxmpp.connect(prosody.anonymous_domain, None, **opts) as conn:
        assert conn.jid.domain == prosody.anonymous_domain and conn.jid.local


def test_wrong_password(prosody, prosody_account):
    account = prosody_account()
    before = set(threading.enumerate())
    with pytest.raises(AuthenticationError) as info:
        fastxmpp.connect(account.jid, "not-the-password", **options(prosody))
    assert info.value.condition == "not-authorized"
    assert no_fastxmpp_threads(before)


def test_unknown_account(prosody):
    with pytest.raises(AuthenticationError):
        fastxmpp.connect(f"nobody@{prosody.domain}", "x", **options(prosody))


def test_a_certificate_for_another_name_is_refused(prosody_account):
    with ProsodyServer(accounts={"alice": "pw"}, cert_hostnames=["other.example"]) as server:
        before = set(threading.enumerate())
        with pytest.raises(CertificateError, match="localhost"):
            fastxmpp.connect(server.jid("alice"), "pw", **options(server))
        with pytest.raises(CertificateError):
            fastxmpp.connect(
                server.jid("alice"),
                "pw",
                **options(server, tls="direct", port=server.direct_tls_port),
            )
        assert no_fastxmpp_threads(before)


def test_an_untrusted_certificate_is_refused(prosody):
    opts = options(prosody)
    del opts["ca_file"]  # the system's CAs do not know our throwaway CA
    with pytest.raises(CertificateError):
        fastxmpp.connect(prosody.jid("alice"), "alice-password", **opts)


def test_verification_off_is_loud(prosody, caplog):
    opts = options(prosody, verify=False)
    del opts["ca_file"]
    with caplog.at_level(logging.WARNING, logger="fastxmpp"):
        with fastxmpp.connect(prosody.jid("alice"), "alice-password", **opts) as conn:
            assert conn.connected
    assert any("verif" in r.getMessage().lower() for r in caplog.records)


def test_nothing_listening(prosody):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed) as info:
        fastxmpp.connect(prosody.jid("alice"), "x", **options(prosody, port=port))
    assert info.value.attempts


def test_bad_arguments():
    with pytest.raises(fastxmpp.InvalidJID):
        fastxmpp.Connection("not a jid@@", "pw")
    with pytest.raises(ValueError):
        fastxmpp.Connection("a@b", "pw", tls="sometimes")
    with pytest.raises(ValueError):
        fastxmpp.Connection("a@b", "pw", port=70000)
    with pytest.raises(ValueError):
        fastxmpp.Connection("a@b", "pw", timeout=0)
    conn = fastxmpp.Connection("a@b", "pw")
    with pytest.raises(ValueError):
        conn.on("mesage", print)
    with pytest.raises(ValueError):
        conn.on("iq", print, type="get")  # which namespace?
    with pytest.raises(Disconnected):
        conn.send_message("b@b", "too early")
    conn.close()


# -- stanzas ----------------------------------------------------------------------------------


def test_messages_both_ways(pair):
    a, b = pair
    got_a, got_b = [], []
    done = threading.Event()
    a.on("message", lambda m: (got_a.append(m.findtext(BODY)), done.set()))
    b.on("message", lambda m: got_b.append(m.findtext(BODY)))
    for i in range(20):
        a.send_message(b.jid.bare, f"to b {i}")
    b.send_message(a.jid, "to a")
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while len(got_b) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got_b == [f"to b {i}" for i in range(20)]  # in order, none lost
    assert got_a == ["to a"]


def test_stanzas_larger_than_a_read_arrive_whole(pair):
    """Bodies spanning several TLS records and reads, between small ones: whole, in order."""
    a, b = pair
    bodies = [f"x{i} " * (9000 if i % 3 == 0 else 1) for i in range(30)]
    got = []
    done = threading.Event()
    b.on("message", lambda m: (got.append(m.findtext(BODY)), len(got) == 30 and done.set()))
    for body in bodies:
        a.send_message(b.jid, body)
    assert done.wait(10), len(got)
    assert got == bodies


def test_messages_iterator(pair):
    a, b = pair
    incoming = b.messages(timeout=5)
    a.send_message(b.jid, "one")
    a.send_message(b.jid, "two")
    assert [next(incoming).findtext(BODY) for _ in range(2)] == ["one", "two"]
    quiet = b.messages(timeout=0.2)
    with pytest.raises(Timeout):
        next(quiet)
    a.send_message(b.jid, "after the timeout")  # the iterator goes on after a Timeout
    quiet.timeout = 5
    assert next(quiet).body == "after the timeout"
    assert next(incoming).body == "after the timeout"  # every iterator gets every message
    quiet.close()
    with pytest.raises(StopIteration):
        next(quiet)
    boxes = len(b._message_queues)
    dropped = b.messages(timeout=1)
    assert len(b._message_queues) == boxes + 1
    del dropped  # an iterator dropped unread stops collecting: its queue cannot fill up
    assert len(b._message_queues) == boxes


def test_chat_states_go_through_the_server(pair):
    """XEP-0085: a chat state with a body, and a standalone one, through Prosody (the fast
    writer for a plain message, and the built tree once a thread is added)."""
    a, b = pair
    incoming = b.messages(timeout=5)
    a.send_message(b.jid, "hi", chat_state="active")
    a.send_message(b.jid, None, chat_state="composing")
    a.send_message(b.jid, "in a thread", thread="t1", chat_state="paused")
    got = [next(incoming) for _ in range(3)]
    assert [(m.body, m.chat_state, m.thread) for m in got] == [
        ("hi", "active", None),
        (None, "composing", None),
        ("in a thread", "paused", "t1"),
    ]
    with pytest.raises(ValueError, match="chat_state must be one of"):
        a.send_message(b.jid, "x", chat_state="typing")


def test_messages_iterator_ends_when_the_connection_closes(pair):
    a, b = pair
    with b.messages(timeout=5) as incoming:
        a.send_message(b.jid, "last")
        assert next(incoming).body == "last"
        b.close()
        with pytest.raises(StopIteration):
            next(incoming)
    with pytest.raises(StopIteration):  # asked after the close: ends at once
        next(b.messages(timeout=5))


def test_handlers_by_type_and_namespace(pair):
    a, b = pair
    seen = []
    b.on("message", lambda m: seen.append("chat"), type="chat")
    b.on("message", lambda m: seen.append("normal"), type="normal")
    b.on("message", lambda m: seen.append("ns"), namespace="urn:example:payload")
    msg = fastxmpp.xml.message(b.jid, "x", id="m1")
    msg.append(E("{urn:example:payload}thing"))
    a.send(msg)
    a.send_message(b.jid, "y", type="normal")
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(seen) == ["chat", "normal", "ns"]


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()


def test_inline_handlers_run_on_the_io_thread_first_and_in_order(pair):
    a, b = pair
    inline, queued = [], []
    b.on(
        "message",
        lambda m: inline.append((threading.current_thread().name, m.body)),
        inline=True,
    )
    b.on("message", lambda m: queued.append((threading.current_thread().name, m.body)))
    for i in range(30):
        a.send_message(b.jid, f"m{i}")
    assert wait_until(lambda: len(queued) == 30)
    bodies = [f"m{i}" for i in range(30)]
    assert [body for _, body in inline] == bodies
    assert [body for _, body in queued] == bodies
    assert {name for name, _ in inline} == {b._loop._thread.name}
    assert {name for name, _ in queued} == {b._runner._thread.name}


def test_inline_handlers_go_on_while_the_callback_thread_is_busy(pair):
    a, b = pair
    release = threading.Event()
    inline = []
    b.on("message", lambda m: release.wait(10), type="headline")  # blocks the callback thread
    b.on("message", lambda m: inline.append(m.body), type="chat", inline=True)
    a.send_message(b.jid, "block", type="headline")
    for i in range(5):
        a.send_message(b.jid, f"c{i}")
    try:
        assert wait_until(lambda: len(inline) == 5)
        assert inline == [f"c{i}" for i in range(5)]
    finally:
        release.set()


def test_inline_presence_handler_and_filters(pair):
    a, b = pair
    seen = []
    b.on("presence", lambda p: seen.append(p.get("type")), type="unavailable", inline=True)
    b.on("message", lambda m: seen.append("ns"), namespace="urn:example:payload", inline=True)
    msg = fastxmpp.xml.message(b.jid, "x")
    msg.append(E("{urn:example:payload}thing"))
    a.send_message(b.jid, "no payload")
    a.send(msg)
    a.send(presence(to=b.jid, type="unavailable"))
    assert wait_until(lambda: len(seen) == 2)
    assert seen == ["ns", "unavailable"]


def test_inline_handlers_may_send_but_not_wait(pair):
    a, b = pair
    outcomes = []

    def on_message(m) -> None:
        m.reply(f"echo {m.body}")  # sending from the I/O thread is fine
        outcomes.append(b.request_async(iq("get", E("{urn:xmpp:ping}ping"))))
        for wait in (
            lambda: b.request(iq("get", E("{urn:xmpp:ping}ping"))),
            lambda: b.messages(),
            lambda: b.events(),
        ):
            try:
                wait()
            except XMPPError as exc:
                outcomes.append(str(exc))

    b.on("message", on_message, inline=True)
    with a.messages(timeout=5) as replies:
        a.send_message(b.jid, "hi")
        assert next(replies).body == "echo hi"
    assert wait_until(lambda: len(outcomes) == 4)
    assert outcomes[0].result(5).get("type") == "result"
    for text in outcomes[1:]:
        assert "inline handler" in text


def test_inline_handlers_that_raise_are_logged(pair, caplog):
    a, b = pair
    got = []
    b.on("message", lambda m: 1 / 0, inline=True)
    b.on("message", lambda m: got.append(m.body), inline=True)
    with caplog.at_level(logging.ERROR, logger="fastxmpp"):
        a.send_message(b.jid, "1")
        a.send_message(b.jid, "2")
        assert wait_until(lambda: len(got) == 2)
    assert got == ["1", "2"] and b.connected
    assert any("inline handler" in r.getMessage() for r in caplog.records)


def test_inline_registration_rules(pair):
    a, b = pair

    def handler(stanza) -> None:
        pass

    for name, keys in (("iq", {"type": "get", "namespace": VERSION_NS}), ("disconnected", {})):
        with pytest.raises(ValueError, match="inline"):
            b.on(name, handler, inline=True, **keys)
    b.on("message", handler, type="chat", inline=True)
    with pytest.raises(ValueError):  # registered inline, not on the callback thread
        b.off("message", handler, type="chat")
    b.off("message", handler, type="chat", inline=True)
    with pytest.raises(ValueError):
        b.off("message", handler, type="chat", inline=True)
    assert b._inline_routes == {}


def test_messages_reach_the_callback_thread_only_for_its_handlers(pair):
    """With inline handlers alone, messages skip the callback thread, unless an events() or
    messages() iterator (or a queued handler) wants them."""
    a, b = pair
    inline = []
    b.on("message", lambda m: inline.append(m.body), inline=True)
    assert "{jabber:client}message" not in b._routes
    with b.events("message", timeout=5) as events:
        assert "{jabber:client}message" in b._routes
        a.send_message(b.jid, "one")
        assert next(events)[1][0].body == "one"
    assert "{jabber:client}message" not in b._routes
    a.send_message(b.jid, "two")
    assert wait_until(lambda: inline == ["one", "two"])


def test_iq_round_trip_between_accounts(pair):
    a, b = pair

    @b.on("iq", type="get", namespace=VERSION_NS)
    def version(request):
        return E(f"{{{VERSION_NS}}}query", E(f"{{{VERSION_NS}}}name", "test-bot"))

    result = a.request(iq("get", E(f"{{{VERSION_NS}}}query"), to=b.jid), timeout=5)
    assert result.get("type") == "result"
    assert result.findtext(f"{{{VERSION_NS}}}query/{{{VERSION_NS}}}name") == "test-bot"
    future = a.request_async(iq("get", E(f"{{{VERSION_NS}}}query"), to=b.jid))
    assert future.result(5).get("from") == str(b.jid)


def test_iq_handler_error_and_unhandled(pair):
    a, b = pair

    @b.on("iq", type="set", namespace="urn:example:forbidden")
    def refuse(request):
        raise StanzaError("forbidden", "auth", "not you")

    with pytest.raises(IQError) as info:
        a.request(iq("set", E("{urn:example:forbidden}x"), to=b.jid), timeout=5)
    assert (info.value.condition, info.value.type, info.value.text) == (
        "forbidden",
        "auth",
        "not you",
    )
    with pytest.raises(IQError) as info:
        a.request(iq("get", E("{urn:example:nobody}x"), to=b.jid), timeout=5)
    assert info.value.condition == "service-unavailable"


def test_iq_to_the_server_and_ping(pair):
    a, _ = pair
    result = a.request(iq("get", E(f"{{{VERSION_NS}}}query"), to=a.jid.domain))
    assert result.findtext(f"{{{VERSION_NS}}}query/{{{VERSION_NS}}}name") == "Prosody"
    assert a.request(iq("get", E("{urn:xmpp:ping}ping"))).get("type") == "result"


def test_request_timeout(pair):
    a, b = pair
    b.on("iq", lambda r: time.sleep(1) or None, type="get", namespace="urn:example:slow")
    with pytest.raises(Timeout):
        a.request(iq("get", E("{urn:example:slow}x"), to=b.jid), timeout=0.2)
    future = a.request_async(iq("get", E("{urn:example:slow}x"), to=b.jid), timeout=0.2)
    with pytest.raises(Timeout):
        future.result(5)


def test_an_iq_answer_from_someone_else_is_ignored(pair):
    """A result with the right id but from the wrong sender must not complete the request."""
    a, b = pair
    target = fastxmpp.JID(f"nobody@{a.jid.domain}")
    future = a.request_async(iq("get", E("{urn:example:q}q"), to=target, id="spoof-1"))
    b.send(iq("result", to=a.jid, id="spoof-1"))  # b pretends to be the target: ignored
    with pytest.raises(IQError) as info:  # then the server answers for the unknown account
        future.result(5)
    assert info.value.condition == "service-unavailable"
    assert info.value.stanza.get("from") == str(target)


def test_slow_callbacks_pause_reading_and_lose_nothing(prosody, prosody_account):
    a_acc, b_acc = prosody_account("a"), prosody_account("b")
    a = fastxmpp.connect(a_acc.jid, a_acc.password, **options(prosody))
    b = fastxmpp.connect(b_acc.jid, b_acc.password, max_backlog=20, **options(prosody))
    got = []
    b.on("message", lambda m: (time.sleep(0.001), got.append(m.findtext(BODY))))
    paused = []
    original = b._pause
    b._pause = lambda: (paused.append(1), original())
    n = 500
    for i in range(n):
        a.send_message(b.jid, str(i))
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    a.close()
    b.close()
    assert got == [str(i) for i in range(n)]
    assert paused, "reading was never paused although callbacks were behind"


# -- failures and closing -------------------------------------------------------------------


def test_a_dead_link_is_noticed(prosody, prosody_account):
    account = prosody_account()
    with FaultProxy(prosody.host, prosody.c2s_port) as proxy:
        conn = fastxmpp.connect(account.jid, account.password, **options(prosody, port=proxy.port))
        reasons = []
        gone = threading.Event()
        conn.on("disconnected", lambda reason: (reasons.append(reason), gone.set()))
        future = conn.request_async(iq("get", E("{urn:xmpp:ping}ping"), to="nobody@nowhere"))
        proxy.cut()
        assert gone.wait(5)
        assert isinstance(reasons[0], ConnectionError)
        with pytest.raises((Disconnected, IQError)):
            future.result(5)
        assert not conn.connected
        with pytest.raises(Disconnected):
            conn.send_message("x@y", "after the end")
        conn.close()


def test_a_stalled_link_is_noticed_by_ping(prosody, prosody_account):
    account = prosody_account()
    with FaultProxy(prosody.host, prosody.c2s_port) as proxy:
        conn = fastxmpp.connect(
            account.jid,
            account.password,
            ping_interval=0.3,
            ping_timeout=0.5,
            **options(prosody, port=proxy.port),
        )
        gone = threading.Event()
        reasons = []
        conn.on("disconnected", lambda reason: (reasons.append(reason), gone.set()))
        time.sleep(0.8)  # pings answered: still up
        assert conn.connected
        proxy.stall()
        assert gone.wait(5)
        assert isinstance(reasons[0], Timeout)
        conn.close()


def test_clean_close_leaves_no_threads(prosody, prosody_account):
    before = set(threading.enumerate())
    account = prosody_account()
    conn = fastxmpp.connect(account.jid, account.password, **options(prosody))
    reasons = []
    conn.on("disconnected", reasons.append)
    conn.close()
    conn.close()  # twice is fine
    assert no_fastxmpp_threads(before)
    assert reasons == [None]
    with pytest.raises(Disconnected):
        conn.request(iq("get", E("{urn:xmpp:ping}ping")))
    with pytest.raises(XMPPError):
        conn.connect()


def test_close_from_a_callback(pair):
    a, b = pair
    closed = threading.Event()

    def on_message(m: Element) -> None:
        b.close()
        closed.set()

    b.on("message", on_message)
    a.send_message(b.jid, "close now")
    assert closed.wait(5)
    deadline = time.monotonic() + 5
    while b.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not b.connected


def test_callbacks_that_raise_do_not_stop_the_connection(pair, caplog):
    a, b = pair
    got = []
    b.on("message", lambda m: 1 / 0)
    b.on("message", lambda m: got.append(m.findtext(BODY)))
    a.send_message(b.jid, "1")
    a.send_message(b.jid, "2")
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got == ["1", "2"] and b.connected


def test_xml_is_logged_at_debug(prosody, prosody_account, caplog):
    account = prosody_account()
    with caplog.at_level(logging.DEBUG, logger="fastxmpp.xml"):
        with fastxmpp.connect(account.jid, account.password, **options(prosody)) as conn:
            conn.request(iq("get", E("{urn:xmpp:ping}ping")))
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "fastxmpp.xml")
    assert "SEND" in text and "RECV" in text and "urn:xmpp:ping" in text
    assert account.password not in text  # PLAIN would show it base64'd; SCRAM never sends it


def test_events_in_order(prosody, prosody_account):
    account = prosody_account()
    events = []
    conn = fastxmpp.Connection(account.jid, account.password, **options(prosody))
    for name in ("connected", "authenticated", "session_ready", "disconnected"):
        conn.on(name, lambda arg, name=name: events.append(name))
    conn.connect()
    conn.close()
    assert events == ["connected", "authenticated", "session_ready", "disconnected"]


def test_the_server_is_found_through_srv_records():
    """No host given: DNS (dnsmasq on loopback) says where example.test's server is."""
    from dns_server import DNSServer

    with ProsodyServer(domain="example.test", accounts={"alice": "pw"}) as server:
        srv = [
            # the direct-TLS record points at a dead port: the client must go on to the next
            ("_xmpps-client._tcp.example.test", "localhost", 1, 0, 0),
            ("_xmpp-client._tcp.example.test", "localhost", server.c2s_port, 10, 0),
        ]
        with DNSServer(srv=srv) as dns:
            conn = fastxmpp.connect(
                server.jid("alice"), "pw", ca_file=server.ca_file, resolver=dns.resolver()
            )
            with conn:
                assert conn.connected and conn.jid.domain == "example.test"
