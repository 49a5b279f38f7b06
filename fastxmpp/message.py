"""Messages (RFC 6121 section 5): :class:`Message`, the view of a received ``<message/>``.

Handlers registered with ``conn.on("message", ...)`` and ``conn.messages()`` get a
:class:`Message`. It wraps the stanza (``msg.stanza``) and answers the usual questions (who sent
it, the body in our language, the thread, the error) lazily: constructing one stores two
references and parses nothing, because in a relay every message goes through here. It also
offers the read-only Element API (``get``, ``find``, ``findtext``, iteration, ...), so handlers
written for the raw Element keep working.

:func:`build_message` makes the stanza :meth:`Connection.send_message` and :meth:`Message.reply`
send, with one body and subject per language when asked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastxmpp import _impl
from fastxmpp._lang import XML_LANG, pick, texts_by_lang
from fastxmpp._xmlcore import _CHAT_STATE_TAGS, _chat_state_tag
from fastxmpp.errors import InvalidJID, StanzaError, XMPPError
from fastxmpp.jid import JID
from fastxmpp.stream import parse_stanza_error
from fastxmpp.xml import Element, message

__all__ = ["Message", "build_message"]

log = logging.getLogger("fastxmpp.im")

BODY = "{jabber:client}body"
SUBJECT = "{jabber:client}subject"
THREAD = "{jabber:client}thread"
_CHAT_STATE_OF_TAG = {tag: state for state, tag in _CHAT_STATE_TAGS.items()}


new_id = _impl.new_id

if TYPE_CHECKING:
    from fastxmpp._dispatch import StanzaView
else:  # compiled when the extensions are built: no Python frame per get()/findtext()
    StanzaView = _impl.dispatch.StanzaView


class Message(StanzaView):
    """A ``<message/>`` stanza as received (or built by :meth:`make_reply`).

    ``stanza`` is the Element itself. The properties read it on each access; nothing is
    parsed before it is asked for. ``connection`` (may be None) is where it came in, used by
    :meth:`reply` and for the preferred language (``connection.lang``).
    """

    __slots__ = ()  # ``stanza`` and ``connection`` are StanzaView's

    stanza: Element
    connection: Any

    @classmethod
    def build(
        cls,
        to: str | JID | None,
        body: str | None = None,
        *,
        connection: Any = None,
        **options: Any,
    ) -> Message:
        """A new outgoing message (keywords as :func:`build_message`), not sent."""
        return cls(build_message(to, body, **options), connection)

    # -- what the message says --------------------------------------------------------------

    @property
    def type(self) -> str:
        """``chat``, ``groupchat``, ``headline``, ``error`` or ``normal`` (also when absent)."""
        return self.stanza.get("type") or "normal"

    @property
    def sender(self) -> JID | None:
        """The ``from`` address, or None (absent; an invalid one is logged)."""
        return self._address("from")

    @property
    def to(self) -> JID | None:
        """The ``to`` address, or None."""
        return self._address("to")

    @property
    def id(self) -> str | None:
        return self.stanza.get("id")

    @property
    def lang(self) -> str | None:
        """The stanza's ``xml:lang``, or None."""
        return self.stanza.get(XML_LANG)

    @property
    def bodies(self) -> dict[str, str]:
        """``{lang: body}``; a body without ``xml:lang`` is keyed by the stanza's ``xml:lang``,
        or ``""`` when that is absent too (see :mod:`fastxmpp._lang`)."""
        return texts_by_lang(self.stanza, BODY)

    @property
    def body(self) -> str | None:
        """The body in the connection's language, else the one without ``xml:lang``, else the
        first; None when there is no body (a chat state, a receipt, ...)."""
        return self._pick(BODY)

    @property
    def subjects(self) -> dict[str, str]:
        """``{lang: subject}``, keyed like :attr:`bodies`."""
        return texts_by_lang(self.stanza, SUBJECT)

    @property
    def subject(self) -> str | None:
        """The subject, chosen like :attr:`body`."""
        return self._pick(SUBJECT)

    @property
    def thread(self) -> str | None:
        """The ``<thread/>`` identifier, or None."""
        element = self.stanza.find(THREAD)
        return None if element is None else element.text

    @property
    def parent_thread(self) -> str | None:
        """The ``parent`` attribute of ``<thread/>`` (RFC 6121 5.2.5), or None."""
        element = self.stanza.find(THREAD)
        return None if element is None else element.get("parent")

    @property
    def chat_state(self) -> str | None:
        """The XEP-0085 chat state it carries (``"active"``, ``"composing"``, ``"paused"``,
        ``"inactive"`` or ``"gone"``), or None; an unknown element of that namespace is not
        one."""
        for child in self.stanza:
            state = _CHAT_STATE_OF_TAG.get(child.tag)
            if state is not None:
                return state
        return None

    @property
    def error(self) -> StanzaError | None:
        """For ``type='error'``: the :class:`~fastxmpp.StanzaError` it carries; else None."""
        if self.stanza.get("type") != "error":
            return None
        return parse_stanza_error(self.stanza)

    # -- answering ----------------------------------------------------------------------------

    def make_reply(
        self,
        body: str | None = None,
        *,
        type: str | None = None,
        thread: str | None = None,
        **options: Any,
    ) -> Message:
        """A reply, not sent: to the sender (the room's bare JID for ``groupchat``), of the
        same type, in the same thread unless ``thread`` is given; a new id. Other keywords as
        :func:`build_message` (``subject``, ``lang``, ``bodies``, ``subjects``, ``id``)."""
        sender = self.sender
        if sender is None:
            raise XMPPError("this message has no sender to reply to")
        if self.stanza.get("type") == "error":
            raise XMPPError("an error message must not be answered (RFC 6120 8.3.1)")
        if type is None:
            type = self.stanza.get("type")
        to = sender.bare if type == "groupchat" else sender
        options.setdefault("id", new_id())
        stanza = build_message(
            to, body, type=type, thread=self.thread if thread is None else thread, **options
        )
        return Message(stanza, self.connection)

    def reply(self, body: str | None = None, **options: Any) -> str:
        """Send :meth:`make_reply` on the connection this message came in on; return its id."""
        if self.connection is None:
            raise XMPPError(
                "this message belongs to no connection: send make_reply() with conn.send()"
            )
        answer = self.make_reply(body, **options)
        self.connection.send(answer)
        return answer.stanza.get("id")  # type: ignore[no-any-return]

    # -- helpers ----------------------------------------------------------------------------

    def _address(self, name: str) -> JID | None:
        value = self.stanza.get(name)
        if value is None:
            return None
        try:
            return JID(value)
        except InvalidJID as exc:
            log.warning("a message with an invalid %r address %r: %s", name, value, exc)
            return None

    def _pick(self, tag: str) -> str | None:
        stanza = self.stanza
        found = None
        for child in stanza:  # the common case: exactly one, without xml:lang
            if child.tag == tag:
                if found is not None or XML_LANG in child.attrib:
                    conn = self.connection
                    lang = getattr(conn, "lang", None)
                    return pick(texts_by_lang(stanza, tag), lang, stanza.get(XML_LANG) or "")
                found = child
        return None if found is None else (found.text or "")

    def __repr__(self) -> str:
        parts = [self.type]
        for name in ("from", "to", "id"):
            value = self.stanza.get(name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"<Message {' '.join(parts)}>"


def build_message(
    to: str | JID | None,
    body: str | None = None,
    *,
    type: str | None = "chat",
    id: str | None = None,
    subject: str | None = None,
    thread: str | None = None,
    parent_thread: str | None = None,
    lang: str | None = None,
    bodies: Mapping[str, str] | None = None,
    subjects: Mapping[str, str] | None = None,
    from_: str | JID | None = None,
    chat_state: str | None = None,
) -> Element:
    """A ``<message/>`` stanza. ``body``/``subject`` go without ``xml:lang`` (they are in
    ``lang``, the stanza's language, when given); ``bodies``/``subjects`` add one per language
    (``{lang: text}``; the key ``""`` means no ``xml:lang``). ``type=None`` omits the type.
    ``chat_state``: an XEP-0085 chat state, as in :func:`fastxmpp.xml.message`."""
    if bodies is None and subjects is None and parent_thread is None:
        return message(
            to,
            body,
            type=type,
            id=id,
            from_=from_,
            subject=subject,
            thread=thread,
            lang=lang,
            chat_state=chat_state,
        )
    # (checked before anything is built, as message() checks it)
    state = None if chat_state is None else Element(_chat_state_tag(chat_state))
    stanza = message(to, None, type=type, id=id, from_=from_, lang=lang)
    for tag, single, several in ((SUBJECT, subject, subjects), (BODY, body, bodies)):
        if single is not None:
            stanza.append(_text(tag, single, None))
        for text_lang, text in (several or {}).items():
            stanza.append(_text(tag, text, text_lang or None))
    if thread is not None:
        element = _text(THREAD, thread, None)
        if parent_thread is not None:
            element.set("parent", parent_thread)
        stanza.append(element)
    elif parent_thread is not None:
        raise ValueError("parent_thread needs a thread")
    if state is not None:
        stanza.append(state)
    return stanza


def _text(tag: str, text: str, lang: str | None) -> Element:
    if not isinstance(text, str):
        raise TypeError(f"message texts must be str, not {text.__class__.__name__}")
    element = Element(tag, {XML_LANG: lang} if lang else None)
    element.text = text
    return element
