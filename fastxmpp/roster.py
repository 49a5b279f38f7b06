"""The roster (RFC 6121 section 2): :class:`Roster` and its :class:`Contact` records.

``conn.roster`` is filled inside ``connect()`` and kept current by the server's roster pushes,
which the connection applies on its callback thread. Readers on any thread see a consistent
state: a :class:`Contact` is an immutable snapshot, replaced (never changed) when its item
changes, and the roster's contents are read under a lock.

:meth:`Roster.add`, :meth:`Roster.update` and :meth:`Roster.remove` send a roster set and wait
for the server's answer (like ``request()``); the change is applied locally as soon as the
server accepts it, so reading right after returns the new state, and again when the push
arrives. :meth:`Roster.to_dict` and :meth:`Roster.from_dict` keep a roster across runs, for
roster versioning (XEP-0237, RFC 6121 2.6): ``IMConnection(..., roster=saved)``.

Parsing is lenient, because one bad item must not cost the others: an item with an invalid
JID is logged and skipped, an unknown subscription value is logged and read as ``"none"``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from fastxmpp.errors import InvalidJID, XMPPError
from fastxmpp.jid import JID
from fastxmpp.xml import Element, iq

if TYPE_CHECKING:
    from fastxmpp.presence import Presence, PresenceTracker

__all__ = ["ROSTER_NS", "Contact", "Roster", "Subscription", "parse_item"]

log = logging.getLogger("fastxmpp.im")

ROSTER_NS = "jabber:iq:roster"
QUERY = f"{{{ROSTER_NS}}}query"
ITEM = f"{{{ROSTER_NS}}}item"
GROUP = f"{{{ROSTER_NS}}}group"

#: A roster item's subscription state; ``"remove"`` only marks a contact that left the roster.
Subscription = Literal["none", "to", "from", "both", "remove"]
_SUBSCRIPTIONS = ("none", "to", "from", "both", "remove")
_KEEP: Any = object()


class Contact:
    """One roster item, immutable: ``jid`` (a bare JID), ``name`` (or None), ``groups`` (a
    frozenset of names), ``subscription`` (``"none"``, ``"to"``: we see their presence,
    ``"from"``: they see ours, ``"both"``; ``"remove"`` in a ``roster_update`` for a contact
    that was removed), ``ask`` (True while our subscription request is pending) and
    ``approved`` (we pre-approved their request, RFC 6121 3.4).

    ``presence`` and ``presences`` read the contact's current presence from its connection
    (None and ``{}`` when it has none); they are live, everything else is a snapshot.
    """

    __slots__ = ("jid", "name", "groups", "subscription", "ask", "approved", "_tracker")

    jid: JID
    name: str | None
    groups: frozenset[str]
    subscription: Subscription
    ask: bool
    approved: bool
    _tracker: PresenceTracker | None

    def __init__(
        self,
        jid: str | JID,
        *,
        name: str | None = None,
        groups: Iterable[str] = (),
        subscription: Subscription = "none",
        ask: bool = False,
        approved: bool = False,
        tracker: PresenceTracker | None = None,
    ) -> None:
        if subscription not in _SUBSCRIPTIONS:
            raise ValueError(f"subscription must be one of {_SUBSCRIPTIONS}, not {subscription!r}")
        if isinstance(groups, str):
            raise TypeError("groups must be a collection of names, not a str")
        setter = object.__setattr__
        setter(self, "jid", JID(jid))
        setter(self, "name", name or None)
        setter(self, "groups", frozenset(groups))
        setter(self, "subscription", subscription)
        setter(self, "ask", bool(ask))
        setter(self, "approved", bool(approved))
        setter(self, "_tracker", tracker)

    def replace(self, **changes: Any) -> Contact:
        """A copy with some fields changed (``name=``, ``groups=``, ``subscription=``, ...)."""
        fields: dict[str, Any] = {
            "name": self.name,
            "groups": self.groups,
            "subscription": self.subscription,
            "ask": self.ask,
            "approved": self.approved,
            "tracker": self._tracker,
        }
        fields.update(changes)
        return Contact(self.jid, **fields)

    @property
    def presence(self) -> Presence | None:
        """The contact's available resource of highest priority, or None."""
        return None if self._tracker is None else self._tracker.best(self.jid)

    @property
    def presences(self) -> dict[str | None, Presence]:
        """``{resource: Presence}`` of the contact's available resources."""
        return {} if self._tracker is None else self._tracker.of(self.jid)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`Roster.to_dict`)."""
        return {
            "jid": str(self.jid),
            "name": self.name,
            "groups": sorted(self.groups),
            "subscription": self.subscription,
            "ask": self.ask,
            "approved": self.approved,
        }

    def _key(self) -> tuple[Any, ...]:
        return (self.jid, self.name, self.groups, self.subscription, self.ask, self.approved)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Contact):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Contact is immutable (use replace() to change {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Contact is immutable (cannot delete {name!r})")

    def __reduce__(self) -> Any:
        return (_contact_from_dict, (self.to_dict(),))

    def __repr__(self) -> str:
        extra = f" name={self.name!r}" if self.name else ""
        if self.groups:
            extra += f" groups={sorted(self.groups)!r}"
        if self.ask:
            extra += " ask"
        if self.approved:
            extra += " approved"
        return f"<Contact {self.jid} {self.subscription}{extra}>"


def _contact_from_dict(data: Mapping[str, Any]) -> Contact:
    return Contact(
        data["jid"],
        name=data.get("name"),
        groups=data.get("groups") or (),
        subscription=data.get("subscription") or "none",
        ask=bool(data.get("ask")),
        approved=bool(data.get("approved")),
    )


def parse_item(item: Element, tracker: PresenceTracker | None = None) -> Contact | None:
    """The :class:`Contact` a roster ``<item/>`` describes (``subscription="remove"`` kept
    as such), or None when it cannot be used (logged: an invalid or missing JID)."""
    raw = item.get("jid")
    if raw is None:
        log.warning("a roster item without a jid was ignored")
        return None
    try:
        jid = JID(raw)
    except InvalidJID as exc:
        log.warning("a roster item with an invalid jid %r was ignored: %s", raw, exc)
        return None
    subscription = item.get("subscription") or "none"
    if subscription not in _SUBSCRIPTIONS:
        log.warning("roster item %s: unknown subscription %r read as 'none'", jid, subscription)
        subscription = "none"
    ask = item.get("ask")
    if ask is not None and ask != "subscribe":
        log.warning("roster item %s: unknown ask value %r ignored", jid, ask)
    groups = {(g.text or "").strip() for g in item.findall(GROUP)}
    groups.discard("")
    return Contact(
        jid,
        name=item.get("name"),
        groups=groups,
        subscription=subscription,  # type: ignore[arg-type]
        ask=ask == "subscribe",
        approved=item.get("approved") in ("true", "1"),
        tracker=tracker,
    )


class Roster:
    """The contacts of an account; thread-safe to read, kept current by the connection.

    ``for contact in roster``, ``len(roster)``, ``jid in roster``, ``roster.get(jid)``,
    ``roster.groups``, ``roster.version`` read it. :meth:`add`, :meth:`update` and
    :meth:`remove` change it on the server (blocking) once it belongs to a connection.
    """

    def __init__(self, contacts: Iterable[Contact] = (), *, version: str | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[JID, Contact] = {c.jid: c for c in contacts}
        self._version = version
        self._connection: Any = None
        self._tracker: PresenceTracker | None = None
        self._fetching = False
        self._held: list[tuple[Element, str | None]] = []  # pushes that came during a fetch

    # -- reading ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Contact]:
        with self._lock:
            return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, jid: object) -> bool:
        return self.get(jid) is not None  # type: ignore[arg-type]

    def get(self, jid: str | JID) -> Contact | None:
        """The contact for ``jid`` (its bare JID), or None (also for an invalid JID)."""
        try:
            key = JID(jid).bare
        except (InvalidJID, TypeError):
            return None
        with self._lock:
            return self._items.get(key) or self._items.get(JID(jid))

    @property
    def contacts(self) -> list[Contact]:
        """All contacts, a snapshot."""
        return list(self)

    @property
    def version(self) -> str | None:
        """The roster version the server gave (RFC 6121 2.6), or None."""
        return self._version

    @property
    def groups(self) -> frozenset[str]:
        """Every group name used in the roster."""
        with self._lock:
            return frozenset(g for c in self._items.values() for g in c.groups)

    def __repr__(self) -> str:
        return f"<Roster {len(self)} contacts version={self._version!r}>"

    # -- changing it on the server ---------------------------------------------------------

    def add(
        self,
        jid: str | JID,
        name: str | None = None,
        groups: Iterable[str] = (),
        *,
        timeout: float | None = None,
    ) -> Contact:
        """Add ``jid`` (or replace its name and groups); wait for the server; return the
        contact. Raises :class:`~fastxmpp.IQError` when refused, :class:`~fastxmpp.Timeout`."""
        contact = Contact(JID(jid).bare, name=name, groups=groups)
        self._set(contact, timeout)
        return self._apply_local(contact)

    def update(
        self,
        jid: str | JID,
        *,
        name: str | None = _KEEP,
        groups: Iterable[str] = _KEEP,
        timeout: float | None = None,
    ) -> Contact:
        """Change the name and/or groups of a contact already in the roster (what is not
        given stays); wait for the server; return the contact."""
        current = self.get(jid)
        if current is None:
            raise ValueError(f"{jid} is not in the roster: add() it first")
        changed = current.replace(
            name=current.name if name is _KEEP else name,
            groups=current.groups if groups is _KEEP else groups,
        )
        self._set(changed, timeout)
        return self._apply_local(changed)

    def remove(self, jid: str | JID, *, timeout: float | None = None) -> None:
        """Remove ``jid`` from the roster (this also cancels subscriptions both ways, RFC 6121
        2.5); wait for the server. Raises :class:`~fastxmpp.IQError` (``item-not-found``)
        when it is not there."""
        bare = JID(jid).bare
        item = Element(ITEM, {"jid": str(bare), "subscription": "remove"})
        self._request(item, timeout)
        with self._lock:
            self._items.pop(bare, None)

    def _set(self, contact: Contact, timeout: float | None) -> None:
        item = Element(ITEM, {"jid": str(contact.jid)})
        if contact.name:
            item.set("name", contact.name)
        for group in sorted(contact.groups):
            element = Element(GROUP)
            element.text = group
            item.append(element)
        self._request(item, timeout)

    def _request(self, item: Element, timeout: float | None) -> None:
        conn = self._connection
        if conn is None:
            raise XMPPError("this roster belongs to no connection: change it through conn.roster")
        query = Element(QUERY)
        query.append(item)
        conn.request(iq("set", query), timeout)

    def _apply_local(self, contact: Contact) -> Contact:
        """After the server accepted a set: the new name and groups, the known subscription."""
        with self._lock:
            current = self._items.get(contact.jid)
            if current is not None:
                contact = current.replace(name=contact.name, groups=contact.groups)
            else:
                contact = contact.replace(tracker=self._tracker)
            self._items[contact.jid] = contact
        return contact

    # -- kept current by the connection -------------------------------------------------------

    def _attach(self, connection: Any, tracker: PresenceTracker | None) -> None:
        with self._lock:
            self._connection = connection
            self._tracker = tracker
            self._items = {jid: c.replace(tracker=tracker) for jid, c in self._items.items()}

    def _begin_fetch(self) -> None:
        """A roster get is under way: hold pushes until its result is applied."""
        with self._lock:
            self._fetching = True
            self._held = []

    def _finish_fetch(self, query: Element | None) -> list[Contact]:
        """Apply a roster result (``query`` None: RFC 6121 2.6.3's empty result, the cached
        roster is current), then the held pushes; return the changed contacts."""
        with self._lock:
            changes: list[Contact] = []
            if query is not None:
                fresh: dict[JID, Contact] = {}
                for element in query.findall(ITEM):
                    contact = parse_item(element, self._tracker)
                    if contact is None:
                        continue
                    if contact.subscription == "remove":
                        log.warning("roster result: item %s with subscription 'remove'", contact)
                        continue
                    fresh[contact.jid] = contact
                for jid, old in self._items.items():
                    if jid not in fresh:
                        changes.append(old.replace(subscription="remove"))
                changes += [c for jid, c in fresh.items() if self._items.get(jid) != c]
                self._items = fresh
                self._version = query.get("ver")
            held, self._held, self._fetching = self._held, [], False
            for item, version in held:
                changes += self._push_locked(item, version)
        return changes

    def _abort_fetch(self) -> None:
        with self._lock:
            self._fetching = False
            self._held = []

    def _push(self, item: Element, version: str | None) -> list[Contact]:
        """Apply a roster push's item; return the changed contact (or nothing)."""
        with self._lock:
            if self._fetching:
                self._held.append((item, version))
                return []
            return self._push_locked(item, version)

    def _push_locked(self, item: Element, version: str | None) -> list[Contact]:
        contact = parse_item(item, self._tracker)
        if contact is None:
            return []
        if contact.subscription == "remove":
            old = self._items.pop(contact.jid, None)
            if old is not None:
                contact = old.replace(subscription="remove")
        else:
            self._items[contact.jid] = contact
        if version is not None:
            self._version = version
        return [contact]

    # -- keeping it across runs -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"version": ..., "contacts": [{"jid", "name", "groups", "subscription", "ask",
        "approved"}, ...]}``, ready for ``json.dump``."""
        with self._lock:
            return {
                "version": self._version,
                "contacts": [c.to_dict() for c in self._items.values()],
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Roster:
        """The roster :meth:`to_dict` saved; unusable entries are logged and skipped."""
        contacts = []
        for entry in data.get("contacts") or ():
            try:
                contacts.append(_contact_from_dict(entry))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("a saved roster entry %r was skipped: %s", entry, exc)
        version = data.get("version")
        return cls(contacts, version=version if isinstance(version, str) else None)

    def copy(self) -> Roster:
        """A detached copy (same contacts and version)."""
        with self._lock:
            return Roster(self._items.values(), version=self._version)
