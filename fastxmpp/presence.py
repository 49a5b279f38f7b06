"""Presence (RFC 6121 section 4): :class:`Presence` values and :class:`PresenceTracker`.

A :class:`Presence` is what one resource last announced: available or not, ``show``, status
texts, priority. The tracker keeps the available ones per bare JID and resource, for roster
contacts, for anyone else who sends us presence, and for the account's other resources; an
unavailable presence removes its resource (one from a bare JID: all of that JID's resources).
Each change comes back as an ``(old, new)`` pair, which :class:`fastxmpp.IMConnection` turns
into its ``presence_update`` event. Parsing is lenient: a bad priority or ``show`` is logged
and replaced by the default, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from fastxmpp._lang import XML_LANG, pick, texts_by_lang
from fastxmpp.jid import JID
from fastxmpp.xml import Element, presence

__all__ = ["SHOWS", "Presence", "PresenceTracker", "build_presence"]

log = logging.getLogger("fastxmpp.im")

SHOW = "{jabber:client}show"
STATUS = "{jabber:client}status"
PRIORITY = "{jabber:client}priority"
#: The values of ``<show/>`` (RFC 6121 4.7.2.1); None means plainly available.
SHOWS = frozenset({"away", "chat", "dnd", "xa"})


class Presence:
    """One resource's presence. A value: compare, keep, never changed after creation.

    ``jid`` is the full JID (bare when the presence came from a bare JID); ``available`` is
    False for an unavailable presence (its status may say why); ``show`` is None or one of
    :data:`SHOWS`; ``statuses`` maps language to status text (keyed like
    :attr:`fastxmpp.Message.bodies`); ``priority`` is -128..127 (0 when absent); ``stanza`` is
    the presence stanza it came from (None when made up, e.g. on disconnect).
    """

    __slots__ = ("jid", "available", "show", "statuses", "priority", "stanza", "_lang", "_default")

    jid: JID
    available: bool
    show: str | None
    statuses: dict[str, str]
    priority: int
    stanza: Element | None

    def __init__(
        self,
        jid: JID,
        *,
        available: bool = True,
        show: str | None = None,
        statuses: Mapping[str, str] | None = None,
        priority: int = 0,
        stanza: Element | None = None,
        lang: str | None = None,
        default_lang: str = "",
    ) -> None:
        self.jid = jid
        self.available = available
        self.show = show
        self.statuses = dict(statuses or {})
        self.priority = priority
        self.stanza = stanza
        self._lang = lang  # the language to prefer for `status`
        self._default = default_lang  # the key of a status without xml:lang

    @classmethod
    def from_stanza(cls, stanza: Element, jid: JID, *, lang: str | None = None) -> Presence:
        """The presence ``stanza`` (from ``jid``) announces; ``lang``: the language to prefer.

        Only ``type`` absent (available) or ``unavailable`` make sense here.
        """
        available = stanza.get("type") is None
        show = stanza.findtext(SHOW)
        if show is not None:
            show = show.strip()
            if show not in SHOWS:
                log.warning("presence from %s: unknown <show/> %r taken as available", jid, show)
                show = None
            elif not available:
                show = None
        return cls(
            jid,
            available=available,
            show=show,
            statuses=texts_by_lang(stanza, STATUS),
            priority=_priority(stanza.findtext(PRIORITY), jid),
            stanza=stanza,
            lang=lang,
            default_lang=stanza.get(XML_LANG) or "",
        )

    def unavailable(self) -> Presence:
        """This resource gone: unavailable, same JID, no stanza (used on disconnect)."""
        return Presence(self.jid, available=False, lang=self._lang)

    @property
    def status(self) -> str | None:
        """The status in the connection's language, else the one without ``xml:lang``, else
        the first; None when there is none."""
        return pick(self.statuses, self._lang, self._default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Presence):
            return NotImplemented
        return (self.jid, self.available, self.show, self.statuses, self.priority) == (
            other.jid,
            other.available,
            other.show,
            other.statuses,
            other.priority,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = (self.show or "available") if self.available else "unavailable"
        status = self.status
        extra = f" {status!r}" if status else ""
        return f"<Presence {self.jid} {state} priority={self.priority}{extra}>"


def _priority(text: str | None, jid: JID) -> int:
    """RFC 6121 4.7.2.3: an integer from -128 to 127, 0 when absent; out of range: clamped."""
    if text is None:
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        log.warning("presence from %s: priority %r is not an integer, taken as 0", jid, text)
        return 0
    if not -128 <= value <= 127:
        log.warning("presence from %s: priority %s out of range, clamped", jid, value)
        return max(-128, min(127, value))
    return value


#: A change: (the Presence before or None if the resource was not available, the Presence now).
Change = tuple["Presence | None", Presence]


class PresenceTracker:
    """The available presences, by bare JID and resource; thread-safe.

    Written by the connection's callback thread, read from any thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_jid: dict[JID, dict[str | None, Presence]] = {}

    def update(self, new: Presence) -> list[Change]:
        """Record ``new``; return what changed (several pairs when a bare JID went away)."""
        bare, resource = new.jid.bare, new.jid.resource
        with self._lock:
            resources = self._by_jid.get(bare)
            if new.available:
                if resources is None:
                    resources = self._by_jid[bare] = {}
                old = resources.pop(resource, None)
                resources[resource] = new  # the newest last: it wins ties of priority
                return [(old, new)]
            if resources is None:
                return [(None, new)]
            if resource is None:  # the whole entity went away
                del self._by_jid[bare]
                return [(old, _gone(old, new)) for old in resources.values()]
            old = resources.pop(resource, None)
            if not resources:
                del self._by_jid[bare]
            return [(old, new)]

    def drop(self, jid: JID) -> list[tuple[Presence, Presence]]:
        """Every resource of ``jid``'s bare JID unavailable (we will hear no more from it)."""
        with self._lock:
            resources = self._by_jid.pop(jid.bare, {})
        return [(old, old.unavailable()) for old in resources.values()]

    def clear(self) -> list[tuple[Presence, Presence]]:
        """Everyone unavailable (the connection ended); return the changes."""
        with self._lock:
            everything, self._by_jid = self._by_jid, {}
        return [(old, old.unavailable()) for res in everything.values() for old in res.values()]

    def of(self, jid: JID) -> dict[str | None, Presence]:
        """``{resource: Presence}`` of the available resources of ``jid``'s bare JID (the key
        is None for a presence from the bare JID itself)."""
        with self._lock:
            return dict(self._by_jid.get(jid.bare, ()))

    def best(self, jid: JID) -> Presence | None:
        """The available resource of highest priority (the newest among equals), or None."""
        with self._lock:
            resources = self._by_jid.get(jid.bare)
            if not resources:
                return None
            best: Presence | None = None
            for p in resources.values():
                if best is None or p.priority >= best.priority:
                    best = p
            return best

    def available(self) -> list[JID]:
        """The bare JIDs with at least one available resource."""
        with self._lock:
            return list(self._by_jid)


def _gone(old: Presence, new: Presence) -> Presence:
    """``new`` (an unavailable presence from a bare JID) as seen by one of its resources."""
    return Presence(
        old.jid,
        available=False,
        statuses=new.statuses,
        stanza=new.stanza,
        lang=new._lang,
        default_lang=new._default,
    )


def build_presence(
    to: str | JID | None = None,
    *,
    type: str | None = None,
    show: str | None = None,
    status: str | None = None,
    statuses: Mapping[str, str] | None = None,
    priority: int | None = None,
    id: str | None = None,
    lang: str | None = None,
) -> Element:
    """A ``<presence/>`` stanza; ``statuses`` adds one status per language (``{lang: text}``,
    the key ``""``: no ``xml:lang``)."""
    if show is not None and show not in SHOWS:
        raise ValueError(f"show must be None or one of {', '.join(sorted(SHOWS))}, not {show!r}")
    stanza = presence(to, type=type, id=id, show=show, status=status, priority=priority, lang=lang)
    if statuses:
        for text_lang, text in statuses.items():
            if not isinstance(text, str):
                raise TypeError(f"a status must be a str, not {text.__class__.__name__}")
            element = Element(STATUS, {XML_LANG: text_lang} if text_lang else None)
            element.text = text
            stanza.append(element)
    return stanza
