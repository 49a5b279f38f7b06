"""Roster and Contact: parsing, results, pushes, persistence; no server needed."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import threading

import pytest
from helpers import CLOSE, header_for

from fastxmpp import JID, Contact, Roster, XMPPError
from fastxmpp.presence import Presence, PresenceTracker
from fastxmpp.roster import parse_item
from fastxmpp.xml import StreamParser

ROSTER = "jabber:iq:roster"


def parse(text: str):
    items = StreamParser().feed(header_for("jabber:client") + text.encode() + CLOSE)
    return items[1]


def query(items: str, ver: str | None = None):
    attr = f" ver='{ver}'" if ver is not None else ""
    return parse(f"<query xmlns='{ROSTER}'{attr}>{items}</query>")


def item(text: str):
    return parse(text.replace("<item", f"<item xmlns='{ROSTER}'", 1))


# -- Contact ------------------------------------------------------------------------------------


def test_contact_is_an_immutable_value():
    c = Contact("Bob@Example.com", name="Bob", groups=["a", "b", "a"], subscription="to")
    assert c.jid == JID("bob@example.com") and c.groups == frozenset({"a", "b"})
    assert (c.name, c.subscription, c.ask, c.approved) == ("Bob", "to", False, False)
    with pytest.raises(AttributeError):
        c.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del c.name
    d = c.replace(name="Robert")
    assert d.name == "Robert" and c.name == "Bob" and d.groups == c.groups
    assert c == Contact("bob@example.com", name="Bob", groups={"a", "b"}, subscription="to")
    assert hash(c) == hash(c.replace()) and c != d
    assert pickle.loads(pickle.dumps(c)) == c and copy.deepcopy(c) == c
    assert "bob@example.com to" in repr(c)


def test_contact_arguments_are_checked():
    with pytest.raises(ValueError):
        Contact("bob@example.com", subscription="maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Contact("bob@example.com", groups="friends")
    with pytest.raises(ValueError):
        Contact("not a jid@@")


def test_contact_presence_is_read_live_from_the_tracker():
    tracker = PresenceTracker()
    c = Contact("bob@example.com", tracker=tracker)
    assert c.presence is None and c.presences == {}
    p = Presence(JID("bob@example.com/phone"), priority=3)
    tracker.update(p)
    assert c.presence == p and c.presences == {"phone": p}
    assert Contact("bob@example.com").presence is None  # detached


# -- items --------------------------------------------------------------------------------------


def test_parse_a_full_item():
    c = parse_item(
        item(
            "<item jid='bob@example.com' name='Bob' subscription='both' ask='subscribe'"
            " approved='true'><group>Friends</group><group> Work </group><group/></item>"
        )
    )
    assert c is not None
    assert (c.jid, c.name, c.subscription, c.ask, c.approved) == (
        JID("bob@example.com"),
        "Bob",
        "both",
        True,
        True,
    )
    assert c.groups == {"Friends", "Work"}  # an empty group name is dropped


def test_parse_defaults():
    c = parse_item(item("<item jid='bob@example.com'/>"))
    assert c == Contact("bob@example.com")
    assert c is not None and c.name is None and c.subscription == "none" and not c.ask


@pytest.mark.parametrize(
    "text, logged",
    [
        ("<item/>", "without a jid"),
        ("<item jid='a@b@c'/>", "invalid jid"),
        ("<item jid=''/>", "invalid jid"),
    ],
)
def test_unusable_items_are_logged_and_skipped(text, logged, caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        assert parse_item(item(text)) is None
    assert logged in caplog.text


def test_unknown_values_are_logged_and_read_as_defaults(caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        c = parse_item(item("<item jid='bob@example.com' subscription='maybe' ask='please'/>"))
    assert c is not None and c.subscription == "none" and not c.ask
    assert "unknown subscription 'maybe'" in caplog.text and "unknown ask" in caplog.text


# -- results and pushes -------------------------------------------------------------------------


def test_a_result_with_bad_items_keeps_the_good_ones(caplog):
    roster = Roster()
    roster._begin_fetch()
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        changes = roster._finish_fetch(
            query(
                "<item jid='bob@example.com' subscription='both'/>"
                "<item jid='a@b@c'/>"
                "<item jid='carol@example.com' subscription='remove'/>"
                "<item jid='dave@example.com' subscription='nonsense'/>",
                ver="v1",
            )
        )
    assert sorted(str(c.jid) for c in changes) == ["bob@example.com", "dave@example.com"]
    assert len(roster) == 2 and roster.version == "v1"
    assert roster.get("dave@example.com").subscription == "none"
    assert caplog.text.count("WARNING") == 3


def test_a_full_result_replaces_the_cache_and_reports_what_left():
    roster = Roster(
        [Contact("bob@example.com", name="Bob"), Contact("carol@example.com")], version="v1"
    )
    roster._begin_fetch()
    changes = roster._finish_fetch(
        query("<item jid='bob@example.com' name='Bob'/><item jid='dave@example.com'/>", ver="v3")
    )
    assert {(str(c.jid), c.subscription) for c in changes} == {
        ("carol@example.com", "remove"),
        ("dave@example.com", "none"),
    }  # bob did not change
    assert sorted(str(c.jid) for c in roster) == ["bob@example.com", "dave@example.com"]
    assert roster.version == "v3"


def test_an_empty_result_keeps_the_cache_and_the_held_pushes_follow():
    """RFC 6121 2.6.3: the cached roster is current; the pushes that follow bring changes."""
    roster = Roster([Contact("bob@example.com"), Contact("carol@example.com")], version="v1")
    roster._begin_fetch()
    # pushes arriving before the result is applied are held, not lost or overwritten
    assert roster._push(item("<item jid='dave@example.com' name='Dave'/>"), "v2") == []
    assert roster._push(item("<item jid='carol@example.com' subscription='remove'/>"), "v3") == []
    assert "dave@example.com" not in roster
    changes = roster._finish_fetch(None)
    assert [(str(c.jid), c.subscription) for c in changes] == [
        ("dave@example.com", "none"),
        ("carol@example.com", "remove"),
    ]
    assert sorted(str(c.jid) for c in roster) == ["bob@example.com", "dave@example.com"]
    assert roster.version == "v3"


def test_pushes():
    roster = Roster()
    [added] = roster._push(
        item("<item jid='bob@example.com' name='B'><group>g</group></item>"), "1"
    )
    assert added == Contact("bob@example.com", name="B", groups={"g"}) and roster.version == "1"
    [changed] = roster._push(item("<item jid='bob@example.com' subscription='to'/>"), None)
    assert changed.subscription == "to" and roster.get("bob@example.com") == changed
    assert roster.version == "1"  # a push without ver keeps the version
    [removed] = roster._push(item("<item jid='bob@example.com' subscription='remove'/>"), "2")
    assert removed.subscription == "remove" and removed.name is None
    assert "bob@example.com" not in roster and len(roster) == 0
    [gone] = roster._push(item("<item jid='nobody@example.com' subscription='remove'/>"), "3")
    assert gone.subscription == "remove"
    assert roster._push(item("<item jid='a@b@c'/>"), "4") == []  # logged, ignored
    assert roster.version == "3"


def test_an_aborted_fetch_releases_the_pushes():
    roster = Roster()
    roster._begin_fetch()
    roster._abort_fetch()
    assert len(roster._push(item("<item jid='bob@example.com'/>"), None)) == 1


# -- reading ------------------------------------------------------------------------------------


def test_reading():
    roster = Roster(
        [
            Contact("bob@example.com", groups={"friends", "work"}),
            Contact("carol@example.com", groups={"friends"}),
        ],
        version="9",
    )
    assert len(roster) == 2 and roster.version == "9"
    assert roster.groups == {"friends", "work"}
    assert "bob@example.com" in roster and JID("bob@example.com/phone") in roster
    assert "dave@example.com" not in roster and "a@b@c" not in roster and 5 not in roster
    assert roster.get("Bob@Example.com").jid == JID("bob@example.com")
    assert roster.get("a@b@c") is None
    assert {str(c.jid) for c in roster} == {"bob@example.com", "carol@example.com"}
    assert roster.contacts == list(roster)
    assert "2 contacts" in repr(roster)


def test_iterating_while_the_roster_changes():
    roster = Roster([Contact(f"u{i}@example.com") for i in range(100)])
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            roster._push(item(f"<item jid='n{n}@example.com'/>"), None)
            n += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(200):
            assert len(list(roster)) >= 100
    finally:
        stop.set()
        thread.join()


# -- changing through a connection --------------------------------------------------------------


class FakeConnection:
    def __init__(self, fail: Exception | None = None) -> None:
        self.requests: list = []
        self.fail = fail

    def request(self, stanza, timeout=None):
        self.requests.append((stanza, timeout))
        if self.fail:
            raise self.fail
        return stanza


def test_changes_need_a_connection():
    with pytest.raises(XMPPError, match="connection"):
        Roster().add("bob@example.com")


def test_add_update_remove_apply_locally_on_success():
    roster = Roster()
    conn = FakeConnection()
    roster._attach(conn, None)
    added = roster.add("bob@example.com/ignored", "Bob", ["b", "a"], timeout=3)
    stanza, timeout = conn.requests[-1]
    assert timeout == 3 and stanza.get("type") == "set"
    [q] = list(stanza)
    [sent] = list(q)
    assert sent.get("jid") == "bob@example.com" and sent.get("name") == "Bob"
    assert [g.text for g in sent] == ["a", "b"]
    assert (
        roster.get("bob@example.com")
        == added
        == Contact("bob@example.com", name="Bob", groups={"a", "b"})
    )
    # a push gave bob a subscription meanwhile: update keeps it, changes only what was given
    roster._push(item("<item jid='bob@example.com' name='Bob' subscription='to'/>"), None)
    updated = roster.update("bob@example.com", groups=["c"])
    assert (updated.name, updated.groups, updated.subscription) == ("Bob", {"c"}, "to")
    [sent] = list(list(conn.requests[-1][0])[0])
    assert sent.get("name") == "Bob" and [g.text for g in sent] == ["c"]
    assert roster.update("bob@example.com", name=None).name is None
    roster.remove("bob@example.com")
    [sent] = list(list(conn.requests[-1][0])[0])
    assert sent.get("subscription") == "remove"
    assert "bob@example.com" not in roster
    with pytest.raises(ValueError, match="not in the roster"):
        roster.update("bob@example.com", name="x")


def test_a_refused_change_changes_nothing():
    roster = Roster()
    roster._attach(FakeConnection(fail=XMPPError("refused")), None)
    with pytest.raises(XMPPError):
        roster.add("bob@example.com")
    assert len(roster) == 0


# -- persistence --------------------------------------------------------------------------------


def test_to_dict_and_back_through_json():
    roster = Roster(
        [
            Contact("bob@example.com", name="Bob", groups={"x"}, subscription="both"),
            Contact("carol@example.com", ask=True, approved=True),
        ],
        version="42",
    )
    data = json.loads(json.dumps(roster.to_dict()))
    back = Roster.from_dict(data)
    assert back.version == "42"
    assert sorted(back, key=lambda c: str(c.jid)) == sorted(roster, key=lambda c: str(c.jid))


def test_from_dict_skips_bad_entries(caplog):
    data = {
        "version": 5,  # not a str: dropped, so the next fetch is a full one
        "contacts": [
            {"jid": "bob@example.com"},
            {"jid": "a@b@c"},
            {"name": "no jid"},
            {"jid": "carol@example.com", "subscription": "sometimes"},
            "garbage",
        ],
    }
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        roster = Roster.from_dict(data)
    assert [str(c.jid) for c in roster] == ["bob@example.com"]
    assert roster.version is None
    assert caplog.text.count("skipped") == 4


def test_copy_is_detached():
    roster = Roster([Contact("bob@example.com")], version="1")
    other = roster.copy()
    other._push(item("<item jid='carol@example.com'/>"), "2")
    assert len(roster) == 1 and roster.version == "1" and len(other) == 2
