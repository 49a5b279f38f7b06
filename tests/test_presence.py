"""Presence values, their parsing and the per-resource tracker; no server needed."""

from __future__ import annotations

import logging

import pytest
from helpers import CLOSE, header_for

from fastxmpp import JID, Presence
from fastxmpp.presence import PresenceTracker, build_presence
from fastxmpp.xml import StreamParser, tostring

BOB = JID("bob@example.com")


def parse(text: str):
    items = StreamParser().feed(header_for("jabber:client") + text.encode() + CLOSE)
    return items[1]


def presence(text: str, jid: str = "bob@example.com/phone", lang: str | None = "en") -> Presence:
    return Presence.from_stanza(parse(text), JID(jid), lang=lang)


# -- parsing ------------------------------------------------------------------------------------


def test_available_with_everything():
    p = presence(
        "<presence><show>dnd</show><status>busy</status><status xml:lang='de'>beschäftigt"
        "</status><priority>5</priority></presence>"
    )
    assert p.available and p.show == "dnd" and p.priority == 5
    assert p.statuses == {"": "busy", "de": "beschäftigt"}
    assert p.status == "busy"
    assert p.jid == JID("bob@example.com/phone") and p.stanza is not None
    de = Presence.from_stanza(p.stanza, p.jid, lang="de")
    assert de.status == "beschäftigt"


def test_defaults():
    p = presence("<presence/>")
    assert p.available and p.show is None and p.priority == 0
    assert p.status is None and p.statuses == {}


def test_unavailable():
    p = presence("<presence type='unavailable'><status>gone</status><show>away</show></presence>")
    assert not p.available and p.status == "gone"
    assert p.show is None  # show means nothing for an unavailable presence


@pytest.mark.parametrize(
    "priority, expected, logged",
    [
        ("-128", -128, False),
        (" 127 ", 127, False),
        ("128", 127, True),
        ("-1000", -128, True),
        ("high", 0, True),
        ("", 0, True),
        ("1.5", 0, True),
    ],
)
def test_priority(priority, expected, logged, caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        p = presence(f"<presence><priority>{priority}</priority></presence>")
    assert p.priority == expected
    assert bool(caplog.records) == logged


def test_an_unknown_show_is_logged_and_plain_available(caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.im"):
        p = presence("<presence><show>sleeping</show></presence>")
    assert p.available and p.show is None
    assert "sleeping" in caplog.text


def test_status_language_inherits_the_stanzas():
    p = presence(
        "<presence xml:lang='de'><status>weg</status><status xml:lang='en'>out</status></presence>",
        lang="fr",
    )
    assert p.statuses == {"de": "weg", "en": "out"}
    assert p.status == "weg"  # no French: the one without xml:lang


def test_value_semantics():
    a = Presence(BOB.with_resource("x"), show="away", priority=1)
    b = Presence(BOB.with_resource("x"), show="away", priority=1)
    assert a == b and a != Presence(BOB.with_resource("x"))
    assert a != "presence"
    assert "unavailable" in repr(a.unavailable()) and "away" in repr(a)


# -- tracking -----------------------------------------------------------------------------------


def test_several_resources_and_the_best_one():
    t = PresenceTracker()
    phone = Presence(BOB.with_resource("phone"), priority=1)
    desk = Presence(BOB.with_resource("desk"), priority=5)
    assert t.update(phone) == [(None, phone)]
    assert t.update(desk) == [(None, desk)]
    assert t.of(BOB) == {"phone": phone, "desk": desk}
    assert t.of(BOB.with_resource("any")) == t.of(BOB)
    assert t.best(BOB) == desk
    away = Presence(BOB.with_resource("desk"), show="away", priority=1)
    assert t.update(away) == [(desk, away)]
    assert t.best(BOB) == away  # equal priority: the newest wins
    gone = Presence(BOB.with_resource("desk"), available=False)
    assert t.update(gone) == [(away, gone)]
    assert t.of(BOB) == {"phone": phone} and t.best(BOB) == phone
    assert t.available() == [BOB]


def test_a_bare_unavailable_takes_every_resource_away():
    t = PresenceTracker()
    phone = Presence(BOB.with_resource("phone"))
    desk = Presence(BOB.with_resource("desk"))
    t.update(phone)
    t.update(desk)
    changes = t.update(Presence(BOB, available=False, statuses={"": "bye"}))
    assert [(old, new.jid, new.available, new.status) for old, new in changes] == [
        (phone, phone.jid, False, "bye"),
        (desk, desk.jid, False, "bye"),
    ]
    assert t.of(BOB) == {} and t.best(BOB) is None and t.available() == []


def test_unknown_resources_going_away_and_bare_presences():
    t = PresenceTracker()
    gone = Presence(BOB.with_resource("x"), available=False)
    assert t.update(gone) == [(None, gone)]
    assert t.of(BOB) == {}
    bare = Presence(BOB)
    t.update(bare)
    assert t.of(BOB) == {None: bare}
    t.update(Presence(BOB.with_resource("y")))
    assert t.update(Presence(BOB.with_resource("z"), available=False))[0][0] is None
    assert set(t.of(BOB)) == {None, "y"}


def test_clear():
    t = PresenceTracker()
    t.update(Presence(BOB.with_resource("a")))
    t.update(Presence(JID("carol@example.com/b"), show="chat"))
    changes = t.clear()
    assert sorted(str(old.jid) for old, _ in changes) == [
        "bob@example.com/a",
        "carol@example.com/b",
    ]
    assert all(not new.available and new.stanza is None for _, new in changes)
    assert t.available() == [] and t.clear() == []


# -- building -----------------------------------------------------------------------------------


def test_build_presence():
    el = build_presence(
        "bob@example.com", show="away", status="out", statuses={"de": "weg"}, priority=3, id="p1"
    )
    assert tostring(el, default_namespace="jabber:client") == (
        b'<presence to="bob@example.com" id="p1"><show>away</show><status>out</status>'
        b'<priority>3</priority><status xml:lang="de">weg</status></presence>'
    )
    back = Presence.from_stanza(
        parse(tostring(el, default_namespace="jabber:client").decode()), BOB, lang="de"
    )
    assert back.status == "weg" and back.show == "away" and back.priority == 3


def test_build_presence_bad_input():
    with pytest.raises(ValueError, match="show"):
        build_presence(show="sleeping")
    with pytest.raises(ValueError):
        build_presence(priority=200)
    with pytest.raises(TypeError):
        build_presence(statuses={"de": 1})  # type: ignore[dict-item]
