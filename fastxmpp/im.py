"""Instant messaging (RFC 6121) on top of :class:`fastxmpp.Connection`: :class:`IMConnection`.

An :class:`IMConnection` is a :class:`~fastxmpp.Connection` that also keeps the roster
(:class:`~fastxmpp.Roster`, fetched inside :meth:`~IMConnection.connect`), tracks presence
(:class:`~fastxmpp.Presence`, per bare JID and resource), handles subscriptions, and announces
the account's own presence. ``fastxmpp.connect()`` returns one.

Its own handlers are registered before any of the user's, so when a user handler or event runs
the state it reads is already up to date. They run on the callback thread; the events they
raise (``roster_update``, ``presence_update``, ...) run right there, before the next stanza.

Events, besides :class:`~fastxmpp.Connection`'s (each handler gets the arguments shown):

- ``roster_update(contacts)``: after the roster fetch (the contacts that changed: all of them
  on a first fetch, possibly none after a versioned one) and after each roster push; a removed
  contact has ``subscription == "remove"``;
- ``presence_update(contact, old, new)``: a resource's presence changed. ``contact`` is the
  roster's :class:`~fastxmpp.Contact`, or a transient one (subscription ``"none"``) for anyone
  outside the roster, the account itself included. ``old`` is the resource's previous
  Presence, None when it was not available; ``new`` is never None: ``new.available`` is False
  when the resource went away. On disconnect every tracked resource goes away this way, and
  so do a contact's resources when our subscription to it ends (no more presence will come);
- ``presence_error(jid, error)``: a presence came back as an error (a
  :class:`~fastxmpp.StanzaError`); tracking is not changed by it;
- ``subscription_request(jid, status)``: someone asks to see our presence and ``auto_approve``
  left the decision to us: answer with :meth:`~IMConnection.approve` or
  :meth:`~IMConnection.deny`;
- ``subscribed(jid)``: they approved our request; ``unsubscribed(jid)``: they denied it or
  cancelled our subscription; ``unsubscribe(jid)``: they no longer want to see our presence.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Union

from fastxmpp._inbox import QueueIterator
from fastxmpp._lang import XML_LANG, pick, texts_by_lang
from fastxmpp.connection import Connection
from fastxmpp.errors import InvalidJID, StanzaError
from fastxmpp.jid import JID
from fastxmpp.message import Message
from fastxmpp.presence import SHOWS, Presence, PresenceTracker, build_presence
from fastxmpp.roster import ITEM, QUERY, Contact, Roster
from fastxmpp.stream import parse_stanza_error
from fastxmpp.xml import Element, iq

__all__ = ["AutoApprove", "EventIterator", "IMConnection", "connect"]

log = logging.getLogger("fastxmpp.im")

ROSTERVER = "{urn:xmpp:features:rosterver}ver"
STATUS = "{jabber:client}status"

#: ``auto_approve``: True approves every subscription request, False leaves each to the
#: ``subscription_request`` event, a callable ``(jid, status) -> True | False | None``
#: approves, denies or leaves it pending.
AutoApprove = Union[bool, Callable[[JID, str | None], bool | None]]


Event = tuple[str, tuple[Any, ...]]
#: Stanza kinds events() also delivers, besides the events.
_STANZA_EVENTS = frozenset({"message", "presence"})


class _EventBox:
    """Where the callback thread puts the events an :class:`EventIterator` asked for."""

    __slots__ = ("names", "queue")

    def __init__(self, names: frozenset[str], maxsize: int) -> None:
        self.names = names
        self.queue: queue.Queue[Event | None] = queue.Queue(maxsize)


class EventIterator(QueueIterator[Event]):
    """What :meth:`IMConnection.events` returns: ``next()`` gives the next ``(name, args)``.

    A :class:`~fastxmpp.Timeout` does not end it: catch it and go on reading, nothing is lost
    meanwhile. It ends (``StopIteration``) once the connection is closed, or after
    :meth:`close`; also a context manager that closes it.
    """

    def __init__(self, connection: IMConnection, box: _EventBox, timeout: float | None) -> None:
        # the connection holds the box, not this iterator: dropping the iterator frees it
        super().__init__(box.queue, timeout, lambda: connection._remove_event_box(box), "event")
        self._names = box.names

    @property
    def names(self) -> frozenset[str]:
        """The events collected."""
        return self._names


class IMConnection(Connection):
    """A client connection with roster, presence and subscriptions (RFC 6121).

    Takes every option of :class:`~fastxmpp.Connection`, and these (keyword-only):

    - ``roster``: True (default) fetches the roster inside :meth:`connect`, so that
      :attr:`roster` is complete when it returns; False skips the fetch; a :class:`Roster`
      from an earlier session (kept in memory or through ``Roster.to_dict``/``from_dict``)
      is reused with roster versioning when the server offers it: only what changed is sent.
    - ``priority`` (0): the priority of the initial presence :meth:`connect` sends last;
      None sends no initial presence (the account then gets no presence and no messages
      sent to its bare JID). ``show`` and ``status`` go into that initial presence.
    - ``auto_approve`` (False): the subscription policy, see :data:`AutoApprove`.
    """

    EVENTS = Connection.EVENTS | {
        "roster_update",
        "presence_update",
        "presence_error",
        "subscription_request",
        "subscribed",
        "unsubscribed",
        "unsubscribe",
    }

    def __init__(
        self,
        jid: str | JID,
        password: str | None,
        *,
        roster: bool | Roster = True,
        priority: int | None = 0,
        show: str | None = None,
        status: str | None = None,
        auto_approve: AutoApprove = False,
        **options: Any,
    ) -> None:
        if not (isinstance(roster, (bool, Roster))):
            raise TypeError(f"roster must be True, False or a Roster, not {roster!r}")
        if priority is not None and (
            not isinstance(priority, int)
            or isinstance(priority, bool)
            or not -128 <= priority <= 127
        ):
            raise ValueError(f"priority must be an int from -128 to 127 or None, not {priority!r}")
        if show is not None and show not in SHOWS:
            raise ValueError(f"show must be None or one of {', '.join(sorted(SHOWS))}")
        if not (isinstance(auto_approve, bool) or callable(auto_approve)):
            raise TypeError("auto_approve must be True, False or a callable (jid, status)")
        super().__init__(jid, password, **options)
        self._fetch = roster is not False
        self._presences = PresenceTracker()
        self._roster = roster.copy() if isinstance(roster, Roster) else Roster()
        self._roster._attach(self, self._presences)
        self._initial = (priority, show, status)
        self._own_priority = priority or 0
        self._own: Presence | None = None
        self.auto_approve = auto_approve
        self._requests: dict[JID, str | None] = {}
        self._requests_lock = threading.Lock()
        self._event_boxes: list[_EventBox] = []
        self._event_boxes_lock = threading.Lock()
        # before any user handler: the state is current when theirs run
        self.on("iq", self._on_roster_push, type="set", namespace="jabber:iq:roster")
        self.on("presence", self._on_presence)
        # messages go to the callback thread for events() only while an iterator asks for
        # them (see _watch_messages): a relay with inline handlers skips that thread
        self._message_events = False
        self._offer_message = self._on_message  # one bound method: off() compares identity
        self.on("disconnected", self._on_disconnected)

    def __repr__(self) -> str:
        return f"<IMConnection {self.jid or self.account} {self._state}>"

    def connect(self) -> IMConnection:
        """Connect (see :meth:`Connection.connect`), fetch the roster, send initial presence.

        If the roster fetch fails (an error answer, a timeout) the connection is closed and
        the error raised.
        """
        super().connect()
        try:
            if self._fetch:
                self._fetch_roster()
            priority, show, status = self._initial
            if priority is not None:
                self.set_presence(show=show, status=status, priority=priority)
        except BaseException:
            self.close()
            raise
        return self

    # -- roster ---------------------------------------------------------------------------------

    @property
    def roster(self) -> Roster:
        """The account's :class:`~fastxmpp.Roster` (empty with ``roster=False``)."""
        return self._roster

    def _fetch_roster(self) -> None:
        query = Element(QUERY)
        features = self.features
        if features is not None and features.find(ROSTERVER) is not None:
            query.set("ver", self._roster.version or "")  # "" bootstraps versioning
        self._roster._begin_fetch()
        try:
            result = self.request(iq("get", query))
        except BaseException:
            self._roster._abort_fetch()
            raise
        # applied on the callback thread, in order with the pushes queued there
        self._on_callback_thread(self._roster_fetched, result.find(QUERY))

    def _roster_fetched(self, query: Element | None) -> None:
        changes = self._roster._finish_fetch(query)
        self._forget_answered_requests(changes)
        self._emit("roster_update", changes)

    def _on_roster_push(self, stanza: Element) -> None:
        """RFC 6121 2.1.6: accept pushes only from our own account (or the server for it)."""
        sender = stanza.get("from")
        if sender is not None:
            try:
                own = self.jid is not None and JID(sender) == self.jid.bare
            except InvalidJID:
                own = False
            if not own:
                log.warning("%s: refused a roster push from %s (not our account)", self.jid, sender)
                raise StanzaError("service-unavailable", "cancel")
        query = stanza[0]
        items = query.findall(ITEM)
        if len(items) != 1:
            raise StanzaError("bad-request", "modify", "a roster push carries exactly one item")
        before = self._roster.get(items[0].get("jid") or "")
        changes = self._roster._push(items[0], query.get("ver"))
        if changes:
            self._forget_answered_requests(changes)
            self._emit("roster_update", changes)
            if before is not None and before.subscription in ("to", "both"):
                for contact in changes:
                    if contact.subscription not in ("to", "both"):
                        self._presence_ended(contact.jid)

    # -- presence -------------------------------------------------------------------------------

    def presences(self, jid: str | JID) -> dict[str | None, Presence]:
        """``{resource: Presence}`` of the available resources of ``jid`` (its bare JID)."""
        return self._presences.of(JID(jid))

    def presence_of(self, jid: str | JID) -> Presence | None:
        """The available resource of ``jid`` with the highest priority, or None."""
        return self._presences.best(JID(jid))

    @property
    def own_presence(self) -> Presence | None:
        """The presence we last broadcast (:meth:`set_presence`), or None."""
        return self._own

    def set_presence(
        self,
        show: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        statuses: Mapping[str, str] | None = None,
    ) -> None:
        """Broadcast our presence to the contacts who may see it (and remember it).

        ``show``: None (available), ``"away"``, ``"chat"``, ``"dnd"``, ``"xa"``; ``status``: a
        text without language, ``statuses``: ``{lang: text}``; ``priority`` (-128..127): None
        keeps the current one (0 at first).
        """
        if priority is None:
            priority = self._own_priority
        stanza = build_presence(
            show=show, status=status, statuses=statuses, priority=priority or None
        )
        self.send(stanza)
        self._own_priority = priority
        own = self.jid or self.account
        self._own = Presence.from_stanza(stanza, own, lang=self.lang)

    def _on_presence(self, stanza: Element) -> None:
        if self._event_boxes:
            self._offer("presence", (stanza,))
        type_ = stanza.get("type")
        sender = stanza.get("from")
        try:
            jid = JID(sender) if sender is not None else self._own_bare()
        except InvalidJID as exc:
            log.warning(
                "%s: ignored a presence from the invalid address %r: %s", self.jid, sender, exc
            )
            return
        if type_ is None or type_ == "unavailable":
            self._track(Presence.from_stanza(stanza, jid, lang=self.lang))
        elif type_ == "subscribe":
            self._subscription_request(jid.bare, stanza)
        elif type_ == "subscribed":
            self._emit("subscribed", jid.bare)
        elif type_ == "unsubscribed":
            self._emit("unsubscribed", jid.bare)
        elif type_ == "unsubscribe":
            with self._requests_lock:
                self._requests.pop(jid.bare, None)  # a pending request taken back
            self._emit("unsubscribe", jid.bare)
        elif type_ == "error":
            self._emit("presence_error", jid, parse_stanza_error(stanza))
        elif type_ != "probe":  # probes are the server's business
            log.warning("%s: ignored a presence of unknown type %r from %s", self.jid, type_, jid)

    def _track(self, presence: Presence) -> None:
        changes = self._presences.update(presence)
        if changes:
            contact = self._contact(presence.jid)
            for old, new in changes:
                self._emit("presence_update", contact, old, new)

    def _presence_ended(self, jid: JID) -> None:
        """Our subscription to ``jid`` ended: no more presence will come from it, so what we
        know is stale (RFC 6121 3.3.3 has the server send unavailable presence then; not every
        server does, Prosody 0.12 does not after our unsubscribe)."""
        contact = self._contact(jid)
        for old, new in self._presences.drop(jid):
            self._emit("presence_update", contact, old, new)

    def _contact(self, jid: JID) -> Contact:
        """The roster's contact for ``jid``, or a transient one."""
        return self._roster.get(jid) or Contact(jid.bare, tracker=self._presences)

    def _own_bare(self) -> JID:
        return (self.jid or self.account).bare

    def _on_disconnected(self, reason: BaseException | None) -> None:
        """Nothing stays online after the link is gone; events() iterators end."""
        for old, new in self._presences.clear():
            self._emit("presence_update", self._contact(old.jid), old, new)
        with self._requests_lock:
            self._requests.clear()
        for box in self._event_boxes:
            box.queue.put(None)

    # -- subscriptions --------------------------------------------------------------------------

    @property
    def subscription_requests(self) -> dict[JID, str | None]:
        """The requests waiting for :meth:`approve` or :meth:`deny`: ``{jid: status}``."""
        with self._requests_lock:
            return dict(self._requests)

    def subscribe(self, jid: str | JID, status: str | None = None) -> None:
        """Ask to see ``jid``'s presence; the answer comes as ``subscribed``/``unsubscribed``."""
        self.send_presence(JID(jid).bare, type="subscribe", status=status)

    def approve(self, jid: str | JID) -> None:
        """Let ``jid`` see our presence: approve its request, or pre-approve one (RFC 6121
        3.4, where the server supports it)."""
        bare = JID(jid).bare
        with self._requests_lock:
            self._requests.pop(bare, None)
        self.send_presence(bare, type="subscribed")

    def deny(self, jid: str | JID) -> None:
        """Refuse ``jid``'s pending subscription request."""
        bare = JID(jid).bare
        with self._requests_lock:
            self._requests.pop(bare, None)
        self.send_presence(bare, type="unsubscribed")

    def cancel(self, jid: str | JID) -> None:
        """Revoke ``jid``'s subscription to our presence (RFC 6121 3.2)."""
        self.send_presence(JID(jid).bare, type="unsubscribed")

    def unsubscribe(self, jid: str | JID) -> None:
        """Stop our subscription to ``jid``'s presence (RFC 6121 3.3)."""
        self.send_presence(JID(jid).bare, type="unsubscribe")

    def _subscription_request(self, jid: JID, stanza: Element) -> None:
        status = pick(texts_by_lang(stanza, STATUS), self.lang, stanza.get(XML_LANG) or "")
        policy = self.auto_approve
        decision: bool | None = policy if isinstance(policy, bool) else None
        if callable(policy) and not isinstance(policy, bool):
            try:
                decision = policy(jid, status)
            except Exception:
                log.exception(
                    "%s: auto_approve(%s) failed; the request stays pending", self.jid, jid
                )
                decision = None
        if decision is True:
            self.approve(jid)
        elif decision is False and policy is not False:
            self.deny(jid)
        else:
            with self._requests_lock:
                self._requests[jid] = status
            self._emit("subscription_request", jid, status)

    def _forget_answered_requests(self, changes: list[Contact]) -> None:
        """A contact whose subscription is now ``from``/``both`` has no pending request."""
        with self._requests_lock:
            if self._requests:
                for contact in changes:
                    if contact.subscription in ("from", "both"):
                        self._requests.pop(contact.jid, None)

    # -- events for blocking code ------------------------------------------------------------

    def events(self, *names: str, timeout: float | None = None) -> EventIterator:
        """Iterate over events as ``(name, args)`` tuples, from the moment of this call.

        ``names`` picks the events (default: all of :attr:`EVENTS`); ``"message"`` (args: the
        :class:`~fastxmpp.Message`) and ``"presence"`` (the stanza) add incoming stanzas, in
        order with the events they cause. The iterator ends when the connection closes (after
        the ``disconnected`` event and the presences it ends, when asked for); ``next()``
        raises :class:`~fastxmpp.Timeout` when nothing came for ``timeout`` seconds, and may
        be called again. Not for use inside a callback (it would wait for itself).
        """
        self._refuse_to_wait("events()", callbacks=True)
        known = self.EVENTS | _STANZA_EVENTS
        unknown = set(names) - known
        if unknown:
            raise ValueError(
                f"unknown events {', '.join(sorted(unknown))}: use {', '.join(sorted(known))}"
            )
        box = _EventBox(frozenset(names or self.EVENTS), self._runner.high_water)
        with self._event_boxes_lock:
            self._event_boxes = [*self._event_boxes, box]
            self._watch_messages()
        if self._state == "closed":
            box.queue.put(None)
        return EventIterator(self, box, timeout)

    def _offer(self, event: str, args: tuple[Any, ...]) -> None:
        """Hand an event (or a stanza) to the events() iterators that asked for it."""
        for box in self._event_boxes:
            if event in box.names:
                box.queue.put((event, args))

    def _on_message(self, msg: Message) -> None:
        self._offer("message", (msg,))

    def _watch_messages(self) -> None:
        """Register _on_message while an events() iterator wants messages (lock held)."""
        wanted = any("message" in box.names for box in self._event_boxes)
        if wanted and not self._message_events:
            self.on("message", self._offer_message)
        elif self._message_events and not wanted:
            self.off("message", self._offer_message)
        self._message_events = wanted

    def _remove_event_box(self, box: _EventBox) -> None:
        with self._event_boxes_lock:
            self._event_boxes = [b for b in self._event_boxes if b is not box]
            self._watch_messages()

    def _emit(self, event: str, *args: Any) -> None:
        """Deliver an event on the callback thread: at once when already there (so that the
        events an internal handler raises run before the next stanza), else queued."""
        if self._runner.in_runner_thread():
            self._deliver(event, args)
            return
        try:
            self._runner.submit(self._deliver, event, args)
        except RuntimeError:  # the callback thread is stopped: nobody is left to tell
            pass

    def _deliver(self, event: str, args: tuple[Any, ...]) -> None:
        self._offer(event, args)
        for handler in self._handlers.get((event, None, None), ()):
            try:
                handler(*args)
            except Exception:
                log.exception("%s handler %r failed", event, handler)

    def _on_callback_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the callback thread, in order with what is queued there, and
        wait for it (at once when this is the callback thread)."""
        if self._runner.in_runner_thread():
            return fn(*args)
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        self._runner.submit(run)
        return future.result()


def connect(jid: str | JID, password: str | None, **options: Any) -> IMConnection:
    """Connect and return a ready :class:`IMConnection` (keywords: see it and
    :class:`~fastxmpp.Connection`): the roster fetched, the initial presence sent.

    ``with fastxmpp.connect("alice@example.org", "secret") as conn: ...`` closes at the end.
    """
    return IMConnection(jid, password, **options).connect()
