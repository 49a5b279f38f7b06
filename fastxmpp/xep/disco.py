"""XEP-0030 Service Discovery: ask what an entity is and offers, and answer the same about us.

Asking (``conn.disco``)::

    info = conn.disco.info("conference.example.org")        # DiscoInfo
    info.has_feature("http://jabber.org/protocol/muc"), info.identities_of("conference")
    rooms = conn.disco.items("conference.example.org")      # [DiscoItem(jid, node, name)]
    futures = [conn.disco.info_async(room.jid) for room in rooms]   # many at once

Answering: a connection answers disco#info with its identity (``client``/``pc`` named
"fastxmpp" unless changed with :meth:`Disco.set_identity`) and the features of everything
attached to it (:attr:`Connection.supported_features <fastxmpp.Connection.supported_features>`
plus :meth:`Disco.add_feature`), and disco#items with :meth:`Disco.add_item`'s items (none by
default). Nodes are registered with :meth:`Disco.set_node`; queries for other nodes are answered
``item-not-found``. Extended information (XEP-0128 data forms) is kept as raw Elements.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from fastxmpp.errors import ProtocolError, StanzaError
from fastxmpp.jid import JID
from fastxmpp.xep import Extension, _sender_of
from fastxmpp.xml import XML_NS, E, Element, iq

if TYPE_CHECKING:
    from fastxmpp.connection import Connection

__all__ = [
    "INFO_NS",
    "ITEMS_NS",
    "DATA_FORMS_NS",
    "Disco",
    "DiscoInfo",
    "DiscoItem",
    "Identity",
    "parse_info",
    "parse_items",
]

log = logging.getLogger("fastxmpp.xep.disco")

INFO_NS = "http://jabber.org/protocol/disco#info"
ITEMS_NS = "http://jabber.org/protocol/disco#items"
DATA_FORMS_NS = "jabber:x:data"

_INFO_QUERY = f"{{{INFO_NS}}}query"
_ITEMS_QUERY = f"{{{ITEMS_NS}}}query"
_IDENTITY = f"{{{INFO_NS}}}identity"
_FEATURE = f"{{{INFO_NS}}}feature"
_ITEM = f"{{{ITEMS_NS}}}item"
_FORM = f"{{{DATA_FORMS_NS}}}x"
_XML_LANG = f"{{{XML_NS}}}lang"


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity of an entity: ``category`` and ``type`` from the XMPP registry (``client``
    / ``pc``, ``conference`` / ``text``, ``server`` / ``im``), a natural-language ``name`` and
    the ``lang`` of that name."""

    category: str
    type: str
    name: str | None = None
    lang: str | None = None

    def __post_init__(self) -> None:
        for what in ("category", "type"):
            value = getattr(self, what)
            if not isinstance(value, str) or not value:
                raise ValueError(f"an identity's {what} must be a non-empty str, not {value!r}")

    def to_element(self) -> Element:
        """The ``<identity/>`` element for a disco#info answer."""
        attrs = {_XML_LANG: self.lang}
        return E(_IDENTITY, attrs, category=self.category, type=self.type, name=self.name)


@dataclass(frozen=True, slots=True)
class DiscoItem:
    """One item of a disco#items answer: an entity (``jid``), or a ``node`` of one, and a
    natural-language ``name``. A str ``jid`` is parsed (:class:`~fastxmpp.InvalidJID` if bad)."""

    jid: JID
    node: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.jid, JID):
            object.__setattr__(self, "jid", JID(self.jid))

    def to_element(self) -> Element:
        """The ``<item/>`` element for a disco#items answer."""
        return E(_ITEM, jid=str(self.jid), node=self.node, name=self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoInfo:
    """What a disco#info answer says about ``jid`` (and ``node``, if one was asked for).

    ``identities`` in the order given, ``features`` as a frozenset of ``var`` strings,
    ``forms``: XEP-0128 extended information, the raw ``<x xmlns='jabber:x:data'/>`` elements.
    Also used to register the information of one of our nodes (:meth:`Disco.set_node`).
    """

    jid: JID | None = None
    node: str | None = None
    identities: tuple[Identity, ...] = ()
    features: frozenset[str] = frozenset()
    forms: tuple[Element, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:  # accept lists and sets where tuples and frozensets belong
        if not isinstance(self.identities, tuple):
            object.__setattr__(self, "identities", tuple(self.identities))
        if not isinstance(self.features, frozenset):
            if isinstance(self.features, str):
                raise TypeError("features must be a collection of str, not one str")
            object.__setattr__(self, "features", frozenset(self.features))
        if not isinstance(self.forms, tuple):
            object.__setattr__(self, "forms", tuple(self.forms))

    def has_feature(self, var: str) -> bool:
        """True when the entity announces the feature ``var``."""
        return var in self.features

    def identities_of(self, category: str, type: str | None = None) -> list[Identity]:
        """The identities in ``category`` (and of ``type``, if given)."""
        return [
            i
            for i in self.identities
            if i.category == category and (type is None or i.type == type)
        ]

    def form(self, form_type: str) -> Element | None:
        """The extended-information form whose ``FORM_TYPE`` is ``form_type``, or None."""
        for form in self.forms:
            for f in form.findall(f"{{{DATA_FORMS_NS}}}field"):
                if f.get("var") != "FORM_TYPE":
                    continue
                if (f.findtext(f"{{{DATA_FORMS_NS}}}value") or "").strip() == form_type:
                    return form
        return None

    def to_element(self, node: str | None = None) -> Element:
        """The disco#info ``<query/>`` payload that announces this information."""
        query = E(_INFO_QUERY, node=node)
        for identity in self.identities:
            query.append(identity.to_element())
        for var in sorted(self.features):  # a stable order: easier to read and to compare
            query.append(E(_FEATURE, var=var))
        for form in self.forms:
            query.append(form)
        return query


#: What :meth:`Disco.set_node` takes: a fixed value, or a function of the requester's JID
#: (None when the request came from our server) that returns one, or None for "no such node".
InfoSource = Union[DiscoInfo, Callable[[Union[JID, None]], Union[DiscoInfo, None]]]
ItemsSource = Union[
    Sequence[DiscoItem], Callable[[Union[JID, None]], Union[Sequence[DiscoItem], None]]
]


# -- parsing answers --------------------------------------------------------------------------


def _query_of(stanza: Element, tag: str, what: str) -> Element:
    if stanza.tag == tag:
        return stanza
    # a loop, not find(tag): Element.find() splits paths at the slashes of "{http://...}"
    query = next((child for child in stanza if child.tag == tag), None)
    if query is None:
        ns = tag[1:].partition("}")[0]
        raise ProtocolError(
            f"the {what} answer from {_sender_of(stanza)} has no <query xmlns='{ns}'/>",
            stanza=stanza,
        )
    return query


def _warn_skipped(what: str, stanza: Element, problems: list[str], total: int) -> None:
    shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
    log.warning(
        "skipped %d of %d %s in the answer from %s: %s",
        len(problems),
        total,
        what,
        _sender_of(stanza),
        shown,
    )


def _jid_or_none(value: str | None) -> JID | None:
    if value is None:
        return None
    try:
        return JID(value)
    except ValueError:
        return None


def parse_info(stanza: Element, *, jid: JID | None = None, node: str | None = None) -> DiscoInfo:
    """The :class:`DiscoInfo` in a disco#info result (the ``<iq/>`` or its ``<query/>``).

    ``jid``/``node``: what was asked (defaults: the answer's ``from`` and ``node``). Raises
    :class:`~fastxmpp.errors.ProtocolError` when there is no disco#info ``<query/>``;
    identities without ``category`` or ``type`` and features without ``var`` are skipped,
    with one warning.
    """
    query = _query_of(stanza, _INFO_QUERY, "disco#info")
    identities: list[Identity] = []
    features: set[str] = set()
    forms: list[Element] = []
    problems: list[str] = []
    total = 0
    for child in query:
        tag = child.tag
        if tag == _IDENTITY:
            total += 1
            category, type_ = child.get("category"), child.get("type")
            if not category or not type_:
                problems.append(f"an identity without {'category' if not category else 'type'}")
                continue
            identities.append(Identity(category, type_, child.get("name"), child.get(_XML_LANG)))
        elif tag == _FEATURE:
            total += 1
            var = child.get("var")
            if not var:
                problems.append("a feature without var")
                continue
            features.add(var)
        elif tag == _FORM:
            forms.append(child)
    if problems:
        _warn_skipped("identities and features", stanza, problems, total)
    if jid is None and stanza is not query:
        jid = _jid_or_none(stanza.get("from"))
    return DiscoInfo(
        jid=jid,
        node=query.get("node") or node,
        identities=tuple(identities),
        features=frozenset(features),
        forms=tuple(forms),
    )


def parse_items(stanza: Element) -> list[DiscoItem]:
    """The items in a disco#items result (the ``<iq/>`` or its ``<query/>``), in order.

    Raises :class:`~fastxmpp.errors.ProtocolError` when there is no disco#items ``<query/>``;
    items without a valid ``jid`` are skipped, with one warning.
    """
    query = _query_of(stanza, _ITEMS_QUERY, "disco#items")
    items: list[DiscoItem] = []
    problems: list[str] = []
    total = 0
    for child in query:
        if child.tag != _ITEM:
            continue
        total += 1
        raw = child.get("jid")
        if raw is None:
            problems.append("an item without jid")
            continue
        try:
            jid = JID(raw)
        except ValueError as exc:
            problems.append(f"jid {raw[:80]!r}: {exc}")
            continue
        items.append(DiscoItem(jid, child.get("node"), child.get("name")))
    if problems:
        _warn_skipped("items", stanza, problems, total)
    return items


# -- the extension ----------------------------------------------------------------------------


class Disco(Extension):
    """XEP-0030 on one connection (``conn.disco``): queries, and our own answers.

    Changes take effect with the next answer and are safe from any thread.
    """

    name = "disco"
    features = frozenset({INFO_NS, ITEMS_NS})

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._lock = threading.Lock()
        self._identities: tuple[Identity, ...] = (Identity("client", "pc", "fastxmpp"),)
        # (features beyond the extensions', extensions' features not announced): one value,
        # so that an answer never sees half of a change
        self._feature_changes: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        self._items: tuple[DiscoItem, ...] = ()
        self._nodes: dict[str, tuple[InfoSource | None, ItemsSource | None]] = {}
        self.serve_iq("get", INFO_NS, self._answer_info)
        self.serve_iq("get", ITEMS_NS, self._answer_items)

    # -- asking --------------------------------------------------------------------------------

    def info(
        self, jid: str | JID, node: str | None = None, timeout: float | None = None
    ) -> DiscoInfo:
        """Ask ``jid`` (and ``node``) for its identities and features; blocks for the answer.

        Raises :class:`~fastxmpp.IQError` for an error answer (``item-not-found``,
        ``service-unavailable``, ...), :class:`~fastxmpp.Timeout`,
        :class:`~fastxmpp.errors.ProtocolError` for an answer without the disco#info payload.
        """
        target, stanza = _request(jid, _INFO_QUERY, node)
        return self.request(stanza, lambda a: parse_info(a, jid=target, node=node), timeout)

    def info_async(
        self, jid: str | JID, node: str | None = None, timeout: float | None = None
    ) -> Future[DiscoInfo]:
        """:meth:`info` without waiting: a Future of the :class:`DiscoInfo` (or the error)."""
        target, stanza = _request(jid, _INFO_QUERY, node)
        return self.request_async(stanza, lambda a: parse_info(a, jid=target, node=node), timeout)

    def items(
        self, jid: str | JID, node: str | None = None, timeout: float | None = None
    ) -> list[DiscoItem]:
        """Ask ``jid`` (and ``node``) for its items; blocks for the answer. Raises as
        :meth:`info` does."""
        _, stanza = _request(jid, _ITEMS_QUERY, node)
        return self.request(stanza, parse_items, timeout)

    def items_async(
        self, jid: str | JID, node: str | None = None, timeout: float | None = None
    ) -> Future[list[DiscoItem]]:
        """:meth:`items` without waiting: a Future of the item list (or the error)."""
        _, stanza = _request(jid, _ITEMS_QUERY, node)
        return self.request_async(stanza, parse_items, timeout)

    # -- what we announce ----------------------------------------------------------------------

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Our identities (default: one, ``client``/``pc`` named "fastxmpp")."""
        return self._identities

    def set_identity(
        self, category: str, type: str, name: str | None = None, *, lang: str | None = None
    ) -> None:
        """Replace our identities by this one, e.g. ``set_identity("client", "bot", "Echo")``."""
        new = Identity(category, type, name, lang)
        with self._lock:
            self._identities = (new,)

    def add_identity(
        self, category: str, type: str, name: str | None = None, *, lang: str | None = None
    ) -> None:
        """Add an identity (one per category, type and lang: ValueError for a duplicate)."""
        new = Identity(category, type, name, lang)
        with self._lock:
            if any(
                (i.category, i.type, i.lang) == (category, type, lang) for i in self._identities
            ):
                raise ValueError(f"there is already an identity {category}/{type} (lang {lang})")
            self._identities = (*self._identities, new)

    def remove_identity(self, category: str, type: str, *, lang: str | None = None) -> None:
        """Remove an identity; ValueError if it is not there or is the last one."""
        with self._lock:
            keep = tuple(
                i
                for i in self._identities
                if (i.category, i.type, i.lang) != (category, type, lang)
            )
            if len(keep) == len(self._identities):
                raise ValueError(f"there is no identity {category}/{type} (lang {lang})")
            if not keep:
                raise ValueError("an entity needs at least one identity: use set_identity()")
            self._identities = keep

    def add_feature(self, var: str) -> None:
        """Announce ``var`` (a namespace or feature name) from the next answer on."""
        if not isinstance(var, str) or not var:
            raise ValueError(f"a feature must be a non-empty str, not {var!r}")
        with self._lock:
            added, hidden = self._feature_changes
            self._feature_changes = (added | {var}, hidden - {var})

    def remove_feature(self, var: str) -> None:
        """Stop announcing ``var``, also one an attached extension brings (it still answers:
        that is for the extension, or a handler of your own, to refuse)."""
        with self._lock:
            added, hidden = self._feature_changes
            self._feature_changes = (added - {var}, hidden | {var})

    def add_item(self, jid: str | JID, node: str | None = None, name: str | None = None) -> None:
        """List an item in our disco#items answer (the same jid and node again replaces it)."""
        new = DiscoItem(jid if isinstance(jid, JID) else JID(jid), node, name)
        with self._lock:
            kept = [i for i in self._items if (i.jid, i.node) != (new.jid, node)]
            self._items = (*kept, new)

    def remove_item(self, jid: str | JID, node: str | None = None) -> None:
        """Stop listing an item (no error if it was not listed)."""
        target = jid if isinstance(jid, JID) else JID(jid)
        with self._lock:
            self._items = tuple(i for i in self._items if (i.jid, i.node) != (target, node))

    def set_node(
        self, node: str, info: InfoSource | None = None, items: ItemsSource | None = None
    ) -> None:
        """Answer queries for our ``node``: ``info`` (a :class:`DiscoInfo`) for disco#info,
        ``items`` (:class:`DiscoItem` s) for disco#items; either may be a function of the
        requester's JID returning one (or None: ``item-not-found``) or raising a
        :class:`~fastxmpp.StanzaError`. Without ``info``, disco#info of the node is answered
        ``item-not-found``; without ``items``, disco#items with an empty list."""
        if not isinstance(node, str) or not node:
            raise ValueError(f"a node must be a non-empty str, not {node!r}")
        if info is not None and not (isinstance(info, DiscoInfo) or callable(info)):
            raise TypeError(f"info must be a DiscoInfo or a callable, not {info!r}")
        if items is not None and not callable(items):
            items = tuple(items)
        with self._lock:
            self._nodes = {**self._nodes, node: (info, items)}

    def remove_node(self, node: str) -> None:
        """Forget a node registered with :meth:`set_node` (no error if it was not there)."""
        with self._lock:
            self._nodes = {k: v for k, v in self._nodes.items() if k != node}

    def own_info(self, node: str | None = None, requester: JID | None = None) -> DiscoInfo | None:
        """What we answer to disco#info for ``node`` (None: ourselves), or None: no such node.

        Our own features: the connection's ``supported_features`` (those of the attached
        extensions and of the connection itself), plus :meth:`add_feature`'s, minus
        :meth:`remove_feature`'s."""
        if node is None:
            added, hidden = self._feature_changes
            features = (self.connection.supported_features - hidden) | added
            return DiscoInfo(
                jid=self.connection.jid, identities=self._identities, features=features
            )
        info, _ = self._nodes.get(node, (None, None))
        if info is not None and not isinstance(info, DiscoInfo):
            info = info(requester)
        return info

    def own_items(
        self, node: str | None = None, requester: JID | None = None
    ) -> Sequence[DiscoItem] | None:
        """What we answer to disco#items for ``node`` (None: ourselves), or None: no such node."""
        if node is None:
            return self._items
        entry = self._nodes.get(node)  # one read: set_node/remove_node replace the dict whole
        if entry is None:
            return None
        items = entry[1]
        if items is None:
            return ()
        if callable(items):
            return items(requester)
        return items

    # -- answering (callback thread) -----------------------------------------------------------

    def _answer_info(self, request: Element) -> Element:
        query = _check_query(request, _INFO_QUERY)
        node = query.get("node") or None
        info = self.own_info(node, _jid_or_none(request.get("from")))
        if info is None:
            raise StanzaError("item-not-found", "cancel")
        return info.to_element(node)

    def _answer_items(self, request: Element) -> Element:
        query = _check_query(request, _ITEMS_QUERY)
        node = query.get("node") or None
        items = self.own_items(node, _jid_or_none(request.get("from")))
        if items is None:
            raise StanzaError("item-not-found", "cancel")
        answer = E(_ITEMS_QUERY, node=node)
        for item in items:
            answer.append(item.to_element())
        return answer


def _request(jid: str | JID, tag: str, node: str | None) -> tuple[JID, Element]:
    target = jid if isinstance(jid, JID) else JID(jid)
    if node is not None and (not isinstance(node, str) or not node):
        raise ValueError(f"node must be a non-empty str or None, not {node!r}")
    return target, iq("get", E(tag, node=node), to=target)


def _check_query(request: Element, tag: str) -> Element:
    query = request[0]  # the connection routed the request by this element's namespace
    if query.tag != tag:
        raise StanzaError("bad-request", "modify", f"expected <query/>, not {query.tag}")
    return query
