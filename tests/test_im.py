"""The IM layer (RFC 6121) against a real server: roster, presence, subscriptions, messages.

Every account is fresh (``prosody_account``). Tests never sleep and hope: they wait for the
events that follow each state change (``conn.events()``), with generous timeouts, and check
the state after the event that must have brought it.
"""

from __future__ import annotations

import logging
import queue
import threading

import pytest
from proxy import FaultProxy

import fastxmpp
from fastxmpp import (
    JID,
    IMConnection,
    IQError,
    Message,
    Presence,
    Roster,
    StanzaError,
    Timeout,
    XMPPError,
)
from fastxmpp.testing import ScriptedServer
from fastxmpp.xml import E, Element, iq

WAIT = 20  # seconds: generous, the machine is shared; no test relies on it running out
ROSTER_NS = "jabber:iq:roster"


def options(server, **extra):
    return {
        "host": server.host,
        "port": server.c2s_port,
        "ca_file": server.ca_file,
        "timeout": WAIT,
        **extra,
    }


@pytest.fixture
def login(prosody):
    """``login(account, connect=True, **options)``: an IMConnection, closed after the test."""
    opened: list[IMConnection] = []

    def make(account, *, connect: bool = True, **extra) -> IMConnection:
        conn = IMConnection(account.jid, account.password, **options(prosody, **extra))
        opened.append(conn)
        return conn.connect() if connect else conn

    yield make
    for conn in opened:
        conn.close()


@pytest.fixture
def accounts(prosody_account):
    """``accounts(n)``: n fresh accounts."""
    return lambda n: [prosody_account(name) for name in ("alice", "bob", "carol", "dave")[:n]]


def until(events, predicate, what: str) -> list:
    """Read ``events`` until ``predicate()`` holds; return the events read (Timeout: failure)."""
    seen: list = []
    if predicate():
        return seen
    for event in events:
        seen.append(event)
        if predicate():
            return seen
    raise AssertionError(f"the connection closed before {what}; events: {seen}")


def expect(events, name: str, *args) -> tuple:
    """Read ``events`` until one named ``name`` (with these first arguments) comes."""
    for event_name, event_args in events:
        if event_name == name and event_args[: len(args)] == args:
            return event_args
    raise AssertionError(f"the connection closed before the event {name}{args}")


def state(conn: IMConnection, jid: str) -> tuple[str, bool] | None:
    contact = conn.roster.get(jid)
    return None if contact is None else (contact.subscription, contact.ask)


# -- roster -------------------------------------------------------------------------------------


def test_the_roster_is_fetched_inside_connect(accounts, login):
    alice, bob, carol = accounts(3)
    first = login(alice)
    first.roster.add(bob.jid, "Bob", ["friends", "work"])
    first.roster.add(carol.jid)
    conn = login(alice, connect=False)
    assert isinstance(conn, fastxmpp.Connection)
    updates = []
    conn.on("roster_update", updates.append)
    assert conn.connect() is conn
    assert {str(c.jid) for c in conn.roster} == {bob.jid, carol.jid}  # complete on return
    contact = conn.roster.get(bob.jid)
    assert (contact.name, contact.groups, contact.subscription, contact.ask) == (
        "Bob",
        {"friends", "work"},
        "none",
        False,
    )
    assert conn.roster.groups == {"friends", "work"}
    assert conn.roster.version  # Prosody versions rosters (XEP-0237)
    assert [sorted(str(c.jid) for c in changes) for changes in updates] == [
        sorted([bob.jid, carol.jid])
    ]


def test_roster_changes_and_the_pushes_on_another_resource(accounts, login):
    alice, bob = accounts(2)
    one = login(alice, resource="one")
    two = login(alice, resource="two")
    pushes = two.events("roster_update", timeout=WAIT)

    added = one.roster.add(bob.jid, "Bob", ["a", "b"])
    assert one.roster.get(bob.jid) == added  # at once, without waiting for the push
    _, ([pushed],) = next(pushes)
    assert (pushed.jid, pushed.name, pushed.groups) == (JID(bob.jid), "Bob", {"a", "b"})
    assert two.roster.get(bob.jid) == pushed

    one.roster.update(bob.jid, name="Robert")
    assert one.roster.get(bob.jid).name == "Robert"
    _, ([pushed],) = next(pushes)
    assert (pushed.name, pushed.groups) == ("Robert", {"a", "b"})  # groups kept
    one.roster.update(bob.jid, groups=[])
    _, ([pushed],) = next(pushes)
    assert (pushed.name, pushed.groups) == ("Robert", frozenset())

    one.roster.remove(bob.jid)
    assert bob.jid not in one.roster
    _, ([pushed],) = next(pushes)
    assert pushed.jid == JID(bob.jid) and pushed.subscription == "remove"
    assert bob.jid not in two.roster and len(two.roster) == 0

    with pytest.raises(IQError) as info:
        one.roster.remove(bob.jid)
    assert info.value.condition == "item-not-found"


def test_a_spoofed_roster_push_is_refused_and_logged(accounts, login, caplog):
    """RFC 6121 2.1.6: a push from anyone but our own account is refused (and ignored)."""
    alice, bob, mallory = accounts(3)
    a = login(alice)
    m = login(mallory)
    updates = a.events("roster_update", timeout=WAIT)
    push = iq(
        "set",
        E(f"{{{ROSTER_NS}}}query", E(f"{{{ROSTER_NS}}}item", jid=mallory.jid, name="friend")),
        to=a.jid,
    )
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        with pytest.raises(IQError) as info:
            m.request(push)
    assert info.value.condition == "service-unavailable"
    assert any(
        "refused a roster push" in r.getMessage() and mallory.jid in r.getMessage()
        for r in caplog.records
    )
    assert len(a.roster) == 0 and mallory.jid not in a.roster
    a.roster.add(bob.jid)  # the next roster_update is this one: the spoofed push made none
    _, (changes,) = next(updates)
    assert [str(c.jid) for c in changes] == [bob.jid]


def test_roster_versioning(accounts, login, monkeypatch):
    alice, bob, carol, dave = accounts(4)
    results: list = []
    finish = Roster._finish_fetch

    def recording(self, query):
        results.append(query)
        return finish(self, query)

    monkeypatch.setattr(Roster, "_finish_fetch", recording)

    first = login(alice)
    pushes = first.events("roster_update", timeout=WAIT)
    first.roster.add(bob.jid, "Bob")
    first.roster.add(carol.jid)
    next(pushes), next(pushes)  # the pushes carry the versions
    saved = first.roster.to_dict()
    first.close()
    assert results[-1] is not None  # a full roster at first

    # nothing changed since: the server answers with an empty result, the cache stands
    again = login(alice, roster=Roster.from_dict(saved))
    assert results[-1] is None
    assert {str(c.jid) for c in again.roster} == {bob.jid, carol.jid}
    assert again.roster.get(bob.jid).name == "Bob" and again.roster.version == saved["version"]
    again.roster.remove(carol.jid)
    again.roster.add(dave.jid, "Dave")
    again.close()

    # changed since: the server sends the roster (Prosody: whole); the update names the diff
    updates: list = []
    third = login(alice, connect=False, roster=Roster.from_dict(saved))
    third.on("roster_update", updates.append)
    third.connect()
    assert {str(c.jid) for c in third.roster} == {bob.jid, dave.jid}
    assert third.roster.version != saved["version"]
    [changes] = updates
    assert {(str(c.jid), c.subscription) for c in changes} == {
        (carol.jid, "remove"),
        (dave.jid, "none"),
    }

    # the live roster of an earlier connection can be passed as well (it is copied)
    fourth = login(alice, roster=third.roster)
    assert results[-1] is None and fourth.roster is not third.roster
    assert {str(c.jid) for c in fourth.roster} == {bob.jid, dave.jid}


# -- subscriptions -------------------------------------------------------------------------------


def subscribe_and_approve(a, a_events, a_jid, b, b_events, b_jid) -> None:
    """a asks to see b's presence, b approves; wait until both rosters show it."""
    a.subscribe(b_jid, "may I?")
    assert expect(b_events, "subscription_request", JID(a_jid)) == (JID(a_jid), "may I?")
    assert b.subscription_requests == {JID(a_jid): "may I?"}
    b.approve(a_jid)
    expect(a_events, "subscribed", JID(b_jid))
    until(a_events, lambda: state(a, b_jid) in (("to", False), ("both", False)), "a sees 'to'")
    until(b_events, lambda: state(b, a_jid) in (("from", False), ("both", False)), "b: 'from'")
    assert b.subscription_requests == {}


def test_subscription_request_and_approval(accounts, login):
    alice, bob = accounts(2)
    a, b = login(alice), login(bob)
    a_events, b_events = a.events(timeout=WAIT), b.events(timeout=WAIT)
    subscribe_and_approve(a, a_events, alice.jid, b, b_events, bob.jid)
    assert state(a, bob.jid) == ("to", False) and state(b, alice.jid) == ("from", False)
    # the approval brings bob's presence
    until(a_events, lambda: a.presence_of(bob.jid) is not None, "bob's presence")
    assert a.presence_of(bob.jid).jid == b.jid
    assert a.roster.get(bob.jid).presence == a.presence_of(bob.jid)
    # and the other way round: both
    subscribe_and_approve(b, b_events, bob.jid, a, a_events, alice.jid)
    until(a_events, lambda: state(a, bob.jid) == ("both", False), "alice: both")
    until(b_events, lambda: state(b, alice.jid) == ("both", False), "bob: both")
    until(b_events, lambda: b.presence_of(alice.jid) is not None, "alice's presence")


def test_subscription_request_denied(accounts, login):
    alice, bob = accounts(2)
    a, b = login(alice), login(bob)
    a_events, b_events = a.events(timeout=WAIT), b.events(timeout=WAIT)
    a.subscribe(bob.jid)
    until(a_events, lambda: state(a, bob.jid) == ("none", True), "alice's pending item")
    assert expect(b_events, "subscription_request", JID(alice.jid)) == (JID(alice.jid), None)
    b.deny(alice.jid)
    assert b.subscription_requests == {}
    expect(a_events, "unsubscribed", JID(bob.jid))
    until(a_events, lambda: state(a, bob.jid) == ("none", False), "alice: none, not pending")
    assert state(b, alice.jid) in (None, ("none", False))
    assert a.presence_of(bob.jid) is None


def test_they_cancel_our_subscription(accounts, login):
    alice, bob = accounts(2)
    a, b = login(alice), login(bob)
    a_events, b_events = a.events(timeout=WAIT), b.events(timeout=WAIT)
    subscribe_and_approve(a, a_events, alice.jid, b, b_events, bob.jid)
    until(a_events, lambda: a.presence_of(bob.jid) is not None, "bob's presence")
    b.cancel(alice.jid)  # bob revokes alice's subscription to him
    expect(a_events, "unsubscribed", JID(bob.jid))
    until(
        a_events,
        lambda: state(a, bob.jid) == ("none", False) and a.presence_of(bob.jid) is None,
        "alice: none, and bob unavailable",
    )
    until(b_events, lambda: state(b, alice.jid) == ("none", False), "bob: none")


def test_we_unsubscribe(accounts, login):
    alice, bob = accounts(2)
    a, b = login(alice), login(bob)
    a_events, b_events = a.events(timeout=WAIT), b.events(timeout=WAIT)
    subscribe_and_approve(a, a_events, alice.jid, b, b_events, bob.jid)
    until(a_events, lambda: a.presence_of(bob.jid) is not None, "bob's presence")
    a.unsubscribe(bob.jid)  # alice no longer wants bob's presence
    expect(b_events, "unsubscribe", JID(alice.jid))
    until(b_events, lambda: state(b, alice.jid) == ("none", False), "bob: none")
    until(
        a_events,
        lambda: state(a, bob.jid) == ("none", False) and a.presence_of(bob.jid) is None,
        "alice: none, and bob unavailable",
    )


def test_auto_approve_true(accounts, login):
    alice, bob = accounts(2)
    b = login(bob, connect=False, auto_approve=True)
    requests: list = []
    b.on("subscription_request", lambda jid, status: requests.append(jid))
    b.connect()
    a = login(alice)
    a_events, b_events = a.events(timeout=WAIT), b.events(timeout=WAIT)
    a.subscribe(bob.jid)
    expect(a_events, "subscribed", JID(bob.jid))
    until(a_events, lambda: state(a, bob.jid) == ("to", False), "alice: to")
    until(b_events, lambda: state(b, alice.jid) == ("from", False), "bob: from")
    assert requests == [] and b.subscription_requests == {}  # decided, not asked


def test_auto_approve_callable(accounts, login):
    alice, bob, carol, dave = accounts(4)
    asked = []

    def policy(jid, status):
        asked.append((jid, status))
        return {"please": True, "no": False}.get(status)  # anything else: ask the user

    b = login(bob, auto_approve=policy)
    b_events = b.events("subscription_request", timeout=WAIT)
    a, c, d = login(alice), login(carol), login(dave)
    a_events, c_events = a.events(timeout=WAIT), c.events(timeout=WAIT)
    a.subscribe(bob.jid, "please")
    c.subscribe(bob.jid, "no")
    d.subscribe(bob.jid)
    expect(a_events, "subscribed", JID(bob.jid))
    expect(c_events, "unsubscribed", JID(bob.jid))
    assert expect(b_events, "subscription_request") == (JID(dave.jid), None)  # only dave's
    assert b.subscription_requests == {JID(dave.jid): None}
    assert sorted(asked, key=str) == sorted(
        [(JID(alice.jid), "please"), (JID(carol.jid), "no"), (JID(dave.jid), None)], key=str
    )


# -- presence ---------------------------------------------------------------------------------


def test_presence_of_several_resources(accounts, login):
    alice, bob = accounts(2)
    b = login(bob)
    desk = login(alice, resource="desk", priority=5, auto_approve=True)
    b_events = b.events(timeout=WAIT)
    b.subscribe(alice.jid)
    until(b_events, lambda: b.presence_of(alice.jid) is not None, "alice's desk presence")

    phone = login(
        alice, connect=False, resource="phone", priority=1, show="away", status="on the go"
    )
    phone_events = phone.events(timeout=WAIT)  # before connect: nothing is missed
    phone.connect()
    until(b_events, lambda: len(b.presences(alice.jid)) == 2, "both of alice's resources")
    seen = b.presences(alice.jid)
    assert set(seen) == {"desk", "phone"}
    assert (seen["desk"].priority, seen["desk"].show, seen["desk"].available) == (5, None, True)
    assert (seen["phone"].priority, seen["phone"].show, seen["phone"].status) == (
        1,
        "away",
        "on the go",
    )
    assert b.presence_of(alice.jid).jid == desk.jid  # the highest priority
    assert b.roster.get(alice.jid).presences == seen
    # the account's own resources are tracked too
    until(phone_events, lambda: set(phone.presences(alice.jid)) == {"desk", "phone"}, "own")
    assert phone.own_presence.priority == 1 and phone.own_presence.show == "away"

    phone.set_presence("dnd", "busy", priority=10)
    until(b_events, lambda: b.presence_of(alice.jid).jid == phone.jid, "phone on top")
    assert (b.presence_of(alice.jid).show, b.presence_of(alice.jid).status) == ("dnd", "busy")
    phone.set_presence(status="back")  # priority None: stays 10
    until(b_events, lambda: b.presence_of(alice.jid).status == "back", "phone back")
    assert b.presence_of(alice.jid).priority == 10 and b.presence_of(alice.jid).show is None

    desk.close()  # one goes away
    for name, args in b_events:
        if name == "presence_update" and args[2].jid == desk.jid:
            contact, old, new = args
            break
    assert not new.available and old.available and old.priority == 5
    assert contact.jid == JID(alice.jid) and contact.subscription == "to"
    assert set(b.presences(alice.jid)) == {"phone"}
    assert b.presence_of(alice.jid).jid == phone.jid


def test_everything_is_unavailable_after_the_link_dies(prosody, accounts, login):
    alice, bob = accounts(2)
    with FaultProxy(prosody.host, prosody.c2s_port) as proxy:
        b = login(bob, port=proxy.port)
        a = login(alice, auto_approve=True)
        b_events = b.events(timeout=WAIT)
        b.subscribe(alice.jid)
        until(
            b_events,
            lambda: b.presence_of(alice.jid) is not None and b.presence_of(bob.jid) is not None,
            "alice's and bob's own presence",
        )
        proxy.cut()
        rest = list(b_events)  # ends once the connection is down
    names = [name for name, _ in rest]
    after = rest[names.index("disconnected") + 1 :]  # then each tracked resource goes away
    assert {name for name, _ in after} == {"presence_update"}
    assert {str(new.jid) for _, (_, _, new) in after} == {str(a.jid), str(b.jid)}
    assert all(old.available and not new.available for _, (_, old, new) in after)
    assert b.presences(alice.jid) == {} and b.presence_of(alice.jid) is None
    assert b.roster.get(alice.jid).presence is None


def test_a_presence_error_is_an_event(accounts, login):
    """Prosody here has no server-to-server links: presence to a remote domain bounces."""
    (alice,) = accounts(1)
    a = login(alice)
    errors = a.events("presence_error", timeout=WAIT)
    a.send_presence("someone@remote.example")
    jid, error = expect(errors, "presence_error")
    assert jid == JID("someone@remote.example")
    assert isinstance(error, StanzaError) and error.condition
    assert a.presences("someone@remote.example") == {}
    assert a.connected


def test_no_roster_and_no_initial_presence(accounts, login):
    alice, bob = accounts(2)
    main = login(alice, resource="main")
    main.roster.add(bob.jid)
    inbox = main.messages(timeout=WAIT)
    main_events = main.events("presence_update", timeout=WAIT)
    until(main_events, lambda: "main" in main.presences(alice.jid), "main's own presence")

    quiet = login(alice, resource="quiet", roster=False, priority=None)
    assert len(quiet.roster) == 0 and quiet.own_presence is None
    quiet.send_message(main.jid, "marker")  # after anything quiet's session sent before it
    assert next(inbox).body == "marker"
    assert "quiet" not in main.presences(alice.jid)  # no initial presence came from it


# -- messages -------------------------------------------------------------------------------------


def test_messages_in_several_languages(accounts, login):
    alice, bob = accounts(2)
    a = login(alice, roster=False)
    english = login(bob, resource="en", roster=False)
    german = login(bob, resource="de", roster=False, lang="de")
    handled: queue.Queue = queue.Queue()
    english.on("message", handled.put)
    inboxes = [english.messages(timeout=WAIT), german.messages(timeout=WAIT)]
    for to in (english.jid, german.jid):
        a.send_message(
            to,
            "Hello",
            lang="en",
            bodies={"de": "Hallo", "fr": "Salut"},
            subject="Greeting",
            subjects={"de": "Gruß"},
            thread="t1",
        )
    got = [next(inbox) for inbox in inboxes]
    for m in got:
        assert isinstance(m, Message)
        assert m.bodies == {"en": "Hello", "de": "Hallo", "fr": "Salut"}
        assert m.subjects == {"en": "Greeting", "de": "Gruß"}
        assert m.thread == "t1" and m.type == "chat" and m.sender == a.jid
    assert (got[0].body, got[0].subject) == ("Hello", "Greeting")
    assert (got[1].body, got[1].subject) == ("Hallo", "Gruß")
    from_handler = handled.get(timeout=WAIT)
    assert isinstance(from_handler, Message) and from_handler.body == "Hello"


def test_reply(accounts, login):
    alice, bob = accounts(2)
    a, b = login(alice, roster=False), login(bob, roster=False)
    replied: list[str] = []
    done = threading.Event()

    @b.on("message", type="chat")
    def echo(msg: Message) -> None:
        replied.append(msg.reply(f"re: {msg.body}"))
        done.set()

    inbox = a.messages(timeout=WAIT)
    a.send_message(b.jid, "ping", thread="th-1")
    answer = next(inbox)
    assert done.wait(WAIT)
    assert (answer.body, answer.thread, answer.type) == ("re: ping", "th-1", "chat")
    assert answer.sender == b.jid and answer.id == replied[0]


def test_a_message_error_is_surfaced(prosody, accounts, login):
    (alice,) = accounts(1)
    a = login(alice, roster=False)
    errors: queue.Queue = queue.Queue()
    a.on("message", errors.put, type="error")
    inbox = a.messages(timeout=WAIT)
    sent = a.send_message(f"nobody-here@{prosody.domain}", "hello?")
    bounce = next(inbox)
    assert bounce.type == "error" and bounce.id == sent
    assert bounce.error.condition == "service-unavailable"
    assert bounce.sender == JID(f"nobody-here@{prosody.domain}")
    assert errors.get(timeout=WAIT).error.condition == "service-unavailable"


# -- events() ------------------------------------------------------------------------------------


def test_events_iterator(accounts, login):
    alice, bob = accounts(2)
    a = login(alice)
    with pytest.raises(Timeout):
        next(a.events("subscribed", timeout=0.2))  # nothing of the kind comes
    with pytest.raises(ValueError, match="unknown events"):
        a.events("roster-update")

    failures: queue.Queue = queue.Queue()

    @a.on("message")
    def inside(msg: Message) -> None:
        try:
            a.events()
        except XMPPError as exc:
            failures.put(exc)

    a.send_message(a.jid, "to myself")
    assert "deadlock" in str(failures.get(timeout=WAIT))

    events = a.events("roster_update", "disconnected", timeout=WAIT)
    a.roster.add(bob.jid)
    name, (changes,) = next(events)
    assert name == "roster_update" and [str(c.jid) for c in changes] == [bob.jid]
    a.close()
    assert [name for name, _ in events] == ["disconnected"]  # then it ends
    assert list(a.events(timeout=WAIT)) == []  # on a closed connection: nothing, at once


def test_events_with_stanzas(accounts, login):
    """events() also takes "message" and "presence": stanzas and events in one ordered stream."""
    alice, bob = accounts(2)
    a, b = login(alice, roster=False), login(bob, roster=False)
    own = b.events("presence_update", timeout=WAIT)
    until(own, lambda: b.presence_of(bob.jid) is not None, "bob's own presence")
    got = b.events("message", "presence", "presence_update", timeout=WAIT)
    a.send_presence(b.jid, show="chat")  # directed presence
    a.send_message(b.jid, "after the presence")
    kinds = []
    for name, args in got:
        kinds.append(name)
        if name == "message":
            msg = args[0]
            break
    assert kinds == ["presence", "presence_update", "message"]
    assert isinstance(msg, Message) and msg.body == "after the presence"
    assert b.presence_of(alice.jid).show == "chat"  # tracked although alice is no contact
    got.timeout = 0.2
    with pytest.raises(Timeout):  # a timeout does not end the iterator ...
        next(got)
    got.timeout = WAIT
    a.send_message(b.jid, "later")
    assert next(got)[1][0].body == "later"  # ... it goes on afterwards
    got.close()
    assert list(got) == []


def test_fastxmpp_connect_is_the_im_connection(prosody, accounts):
    (alice,) = accounts(1)
    with fastxmpp.connect(alice.jid, alice.password, **options(prosody)) as conn:
        assert isinstance(conn, IMConnection) and conn.connected
        assert conn.own_presence is not None and conn.own_presence.priority == 0
    with fastxmpp.connection.connect(alice.jid, alice.password, **options(prosody)) as bare:
        assert type(bare) is fastxmpp.Connection  # the bare RFC 6120 connection stays


def test_bad_options():
    with pytest.raises(ValueError):
        IMConnection("a@example.com", "pw", priority=128)
    with pytest.raises(ValueError):
        IMConnection("a@example.com", "pw", show="sleeping")
    with pytest.raises(TypeError):
        IMConnection("a@example.com", "pw", roster="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        IMConnection("a@example.com", "pw", auto_approve="sure")  # type: ignore[arg-type]
    conn = IMConnection("a@example.com", "pw")
    with pytest.raises(ValueError):
        conn.on("roster-update", print)
    conn.on("presence_update", print)  # the IM events are known
    conn.close()


# -- a server that sends rubbish -----------------------------------------------------------------


def scripted_connection(server) -> IMConnection:
    """alice's IMConnection to a ScriptedServer (plain text: the script plays the server)."""
    return IMConnection(
        "alice@localhost", "pw", host=server.host, port=server.port, tls="disabled", timeout=WAIT
    )


def test_hostile_input_is_logged_and_survived(caplog):
    """Bad roster items, bad presences and a spoofed push from a scripted server: logged,
    refused or ignored; the good parts are kept and the connection goes on."""
    answers: dict[str, str] = {}

    def script(link):
        link.login()
        get = link.expect(Element, "{jabber:client}iq")
        link.send(
            f"<iq type='result' id='{get.get('id')}'><query xmlns='{ROSTER_NS}' ver='v1'>"
            "<item jid='bob@localhost' subscription='both' name='Bob'/>"
            "<item jid='a@b@c'/><item subscription='both'/>"
            "<item jid='carol@localhost' subscription='sometimes' ask='maybe'/>"
            "</query></iq>"
        )
        link.expect(Element, "{jabber:client}presence")  # the initial presence
        link.send(
            "<presence from='a@b@c/x'/>"
            "<presence from='bob@localhost/phone'><priority>high</priority>"
            "<show>sleepy</show></presence>"
            "<presence from='bob@localhost/desk'><priority>500</priority></presence>"
            "<presence from='carol@localhost/x' type='whatever'/>"
            "<presence from='x@remote.example' type='error'><error type='cancel'>"
            "<remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            "</error></presence>"
            f"<iq type='set' id='spoof' from='mallory@localhost/x'><query xmlns='{ROSTER_NS}'>"
            "<item jid='evil@localhost'/></query></iq>"
            f"<iq type='set' id='two' from='alice@localhost'><query xmlns='{ROSTER_NS}'>"
            "<item jid='x@localhost'/><item jid='y@localhost'/></query></iq>"
            f"<iq type='set' id='push' from='alice@localhost'><query xmlns='{ROSTER_NS}' ver='v2'>"
            "<item jid='dave@localhost'/></query></iq>"
        )
        while len(answers) < 3:
            item = link.next()
            if isinstance(item, Element) and item.get("id") in ("spoof", "two", "push"):
                error = item.find("{jabber:client}error")
                condition = error[0].tag.rpartition("}")[2] if error is not None else ""
                answers[item.get("id")] = f"{item.get('type')} {condition}".strip()
        link.send("<message from='bob@localhost/phone'><body>end</body></message>")
        link.until_closed()

    with ScriptedServer(script) as server:
        conn = scripted_connection(server)
        errors = conn.events("presence_error", timeout=WAIT)
        inbox = conn.messages(timeout=WAIT)
        with caplog.at_level(logging.WARNING, logger="fastxmpp"):
            conn.connect()
            assert next(inbox).body == "end"  # everything before it was handled
            conn.close()
        assert not server.errors
    assert answers == {
        "spoof": "error service-unavailable",
        "two": "error bad-request",
        "push": "result",
    }
    assert sorted(str(c.jid) for c in conn.roster) == [
        "bob@localhost",
        "carol@localhost",
        "dave@localhost",
    ]
    assert conn.roster.get("carol@localhost").subscription == "none"
    assert conn.roster.version == "v2"
    jid, error = next(errors)[1]
    assert jid == JID("x@remote.example") and error.condition == "remote-server-not-found"
    text = caplog.text
    for logged in (
        "invalid jid 'a@b@c'",
        "without a jid",
        "unknown subscription 'sometimes'",
        "invalid address 'a@b@c/x'",
        "priority 'high'",
        "unknown <show/> 'sleepy'",
        "priority 500 out of range",
        "unknown type 'whatever'",
        "refused a roster push from mallory@localhost/x",
    ):
        assert logged in text, logged


def test_presences_kept_through_the_hostile_input():
    """The presences a hostile server sent are tracked with sane values."""
    seen: list[Presence] = []

    def script(link):
        link.login()
        get = link.expect(Element, "{jabber:client}iq")
        link.send(f"<iq type='result' id='{get.get('id')}'><query xmlns='{ROSTER_NS}'/></iq>")
        link.expect(Element, "{jabber:client}presence")
        link.send(
            "<presence from='bob@localhost/phone'><priority>high</priority></presence>"
            "<presence from='bob@localhost/desk'><priority>500</priority></presence>"
            "<message from='bob@localhost/phone'><body>end</body></message>"
        )
        link.until_closed()

    with ScriptedServer(script) as server:
        conn = scripted_connection(server)
        conn.on("presence_update", lambda contact, old, new: seen.append(new))
        inbox = conn.messages(timeout=WAIT)
        conn.connect()
        assert next(inbox).body == "end"
        presences = conn.presences("bob@localhost")
        assert {r: p.priority for r, p in presences.items()} == {"phone": 0, "desk": 127}
        assert conn.presence_of("bob@localhost").jid == JID("bob@localhost/desk")
        conn.close()
    assert [(str(p.jid), p.available) for p in seen[:2]] == [
        ("bob@localhost/phone", True),
        ("bob@localhost/desk", True),
    ]


def test_a_refused_roster_fetch_fails_connect_and_leaves_nothing_running():
    def script(link):
        link.login()
        get = link.expect(Element, "{jabber:client}iq")
        link.send(
            f"<iq type='error' id='{get.get('id')}'><error type='cancel'>"
            "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        )
        link.until_closed()

    before = set(threading.enumerate())
    with ScriptedServer(script) as server:
        conn = scripted_connection(server)
        with pytest.raises(IQError) as info:
            conn.connect()
        assert info.value.condition == "service-unavailable"
        assert not conn.connected
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("fastxmpp"):
            thread.join(WAIT)
            assert not thread.is_alive(), thread.name
