"""XMPP addresses (JIDs) as defined by RFC 7622.

A :class:`JID` is parsed and prepared once, when it is created: the localpart with the PRECIS
UsernameCaseMapped profile, the resourcepart with the PRECIS OpaqueString profile (both from
``precis_i18n``) and the domainpart with the IDNA2008 rules (``idna``) after the width-mapping,
lowercasing and NFC normalisation that RFC 7622 section 3.2 asks for. Equality, hashing and
``str()`` all use that prepared form, so ``JID("Juliet@Example.COM")`` equals
``JID("juliet@example.com")``.

The ``from`` of every received stanza becomes a JID, so creation is cached (raw string ->
immutable instance) and strings that PRECIS would leave unchanged (plain lowercase ASCII) skip
the PRECIS and IDNA machinery; only the structural checks run for them. :func:`parse_jid` is
the cached function itself, for the hottest paths.

One deliberate deviation from RFC 7622: example 18 of its table 2 (``juliet@example.com/ foo``)
is listed as invalid, but no rule supports that; the OpaqueString profile allows spaces, so
leading and trailing spaces in a resourcepart are accepted (and kept).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, final

import idna
from precis_i18n import get_profile

from .errors import InvalidJID

__all__ = ["JID", "InvalidJID", "parse_jid"]

#: The limit RFC 7622 sets on each part, in UTF-8 octets, after preparation.
MAX_PART_OCTETS: Final = 1023

# No preparation step shrinks a string to less than a quarter of its characters (the longest
# canonical composition merges 4 code points into 1), so a raw part longer than this can never
# come down to 1023 octets: it is rejected before PRECIS spends time on it.
_MAX_RAW_PART_CHARS: Final = 4 * MAX_PART_OCTETS + 4

_LOCAL_PROFILE: Final = get_profile("UsernameCaseMapped")
_RESOURCE_PROFILE: Final = get_profile("OpaqueString")

#: Characters RFC 7622 section 3.3.1 forbids in a localpart on top of UsernameCaseMapped.
_LOCAL_EXCLUDED: Final = re.compile("[\"&'/:<>@]")

# Fast paths: strings that the full preparation provably leaves unchanged and accepts (the
# property tests check this against the slow path). Local: printable ASCII without uppercase
# (UsernameCaseMapped only lowercases ASCII and rejects space and controls) and without the
# excluded characters. Each part must also be at most 1023 characters long. Resource: printable
# ASCII and space (OpaqueString changes no ASCII character and rejects controls). Domain:
# lowercase LDH labels of 1..63 characters, with no "--" anywhere so that A-labels ("xn--") and
# reserved labels ("ab--") take the slow path.
_LOCAL_FAST: Final = re.compile(r"[!#-%(-.0-9;=?\[-~]+")
_RESOURCE_FAST: Final = re.compile(r"[ -~]+")
_DOMAIN_FAST: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)

# RFC 3986 IPv4address: four dec-octets, no leading zeros.
_DEC_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = re.compile(rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}")

#: Label separators that IDNA (RFC 3490 section 3.1, RFC 5895) treats as a full stop.
_DOTS: Final = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})

# Human-readable forms of the precis_i18n error kinds most often met.
_PRECIS_REASONS: Final = {
    "spaces": "spaces are not allowed",
    "symbols": "symbols are not allowed",
    "punctuation": "punctuation is not allowed",
    "controls": "control characters are not allowed",
    "has_compat": "characters with a compatibility decomposition are not allowed",
    "unassigned": "unassigned code points are not allowed",
    "other": "the character is not allowed",
    "precis_ignorable_properties": "default-ignorable code points are not allowed",
    "bidi_rule": "the string breaks the bidi rule of RFC 5893",
    "not_idempotent": "preparing the string again would change it",
    "empty": "the string is empty after preparation",
}
_WHOLE_STRING_REASONS: Final = frozenset({"bidi_rule", "not_idempotent", "empty"})

_Parts = tuple[str | None, str, str | None]


def _show(s: str) -> str:
    """repr() of a part for an error message, shortened: parts can be 1023 octets long."""
    return repr(s) if len(s) <= 64 else repr(s[:60]) + "..."


def _utf8_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8"))


def _precis_error(part: str, raw: str, profile: str, exc: UnicodeEncodeError) -> InvalidJID:
    """Turn a precis_i18n rejection into an :class:`InvalidJID` naming the part and the cause."""
    kind = exc.reason.rpartition("/")[2]
    why = _PRECIS_REASONS.get(kind) or f"not allowed ({kind.replace('_', ' ')})"
    if exc.end - exc.start == 1 and kind not in _WHOLE_STRING_REASONS:
        # Report the character as the caller wrote it when the mapping kept positions.
        char = (raw if len(raw) == len(exc.object) else exc.object)[exc.start]
        where = f"character {char!r} (U+{ord(char):04X}) at position {exc.start}: "
    else:
        where = ""
    return InvalidJID(f"invalid {part} {_show(raw)}: {where}{why} (PRECIS {profile})")


def _check_length(part: str, raw: str, prepared: str) -> None:
    if _utf8_len(prepared) > MAX_PART_OCTETS:
        raise InvalidJID(
            f"{part} {_show(raw)} is longer than {MAX_PART_OCTETS} octets "
            f"({_utf8_len(prepared)} after preparation)"
        )


def _check_raw_length(part: str, raw: str) -> None:
    if len(raw) > _MAX_RAW_PART_CHARS:
        raise InvalidJID(f"{part} is longer than {MAX_PART_OCTETS} octets ({len(raw)} characters)")


def _prep_local(raw: str, fast: bool = True) -> str:
    """Prepare a localpart: UsernameCaseMapped, then the RFC 7622 exclusions and length."""
    if fast and len(raw) <= MAX_PART_OCTETS and _LOCAL_FAST.fullmatch(raw):
        return raw
    if not raw:
        raise InvalidJID("empty local part (nothing before '@')")
    _check_raw_length("local part", raw)
    try:
        prepared: str = _LOCAL_PROFILE.enforce(raw)
    except UnicodeEncodeError as exc:
        raise _precis_error("local part", raw, "UsernameCaseMapped", exc) from None
    excluded = _LOCAL_EXCLUDED.search(prepared)
    if excluded:
        raise InvalidJID(
            f"invalid local part {_show(raw)}: character {excluded.group()!r} is not allowed in "
            "a local part (RFC 7622 section 3.3.1)"
        )
    _check_length("local part", raw, prepared)
    return prepared


def _prep_resource(raw: str, fast: bool = True) -> str:
    """Prepare a resourcepart: OpaqueString, then the length limit. Case is preserved."""
    if fast and len(raw) <= MAX_PART_OCTETS and _RESOURCE_FAST.fullmatch(raw):
        return raw
    if not raw:
        raise InvalidJID("empty resource part (nothing after '/')")
    _check_raw_length("resource part", raw)
    try:
        prepared: str = _RESOURCE_PROFILE.enforce(raw)
    except UnicodeEncodeError as exc:
        raise _precis_error("resource part", raw, "OpaqueString", exc) from None
    _check_length("resource part", raw, prepared)
    return prepared


def _width_map(s: str) -> str:
    """Map fullwidth and halfwidth characters to their decomposition (RFC 5895 section 2)."""
    if s.isascii():
        return s
    out = []
    for char in s:
        decomposition = unicodedata.decomposition(char)
        if decomposition.startswith(("<wide> ", "<narrow> ")):
            codes = decomposition.split()[1:]
            if len(codes) == 1:
                char = chr(int(codes[0], 16))
        out.append(char)
    return "".join(out)


def _prep_label(label: str, raw: str) -> str:
    """Check one mapped domain label against IDNA2008; return it as a U-label or NR-LDH label."""
    if not label:
        raise InvalidJID(f"invalid domain part {_show(raw)}: empty label")
    try:
        if label.startswith("xn--"):
            ulabel = idna.ulabel(label)
            # A label dressed as an A-label must be the exact encoding of a non-ASCII U-label.
            if ulabel.isascii() or idna.alabel(ulabel) != label.encode("ascii"):
                raise idna.IDNAError("not a valid A-label")
            return ulabel
        if len(idna.alabel(label)) > 63:  # alabel() validates the label per IDNA2008
            raise idna.IDNAError("Label too long")
    except (idna.IDNAError, UnicodeError) as exc:
        why = "longer than 63 octets (in DNS form)" if str(exc) == "Label too long" else exc
        raise InvalidJID(f"invalid domain part {_show(raw)}: label {_show(label)}: {why}") from None
    return label


def _prep_domain_slow(raw: str) -> str:
    domain = raw.translate(_DOTS)
    domain = domain.removesuffix(".")  # RFC 7622 section 3.2: strip one final label separator
    if not domain:
        raise InvalidJID(f"empty domain part in {_show(raw)}" if raw else "empty domain part")
    if domain.startswith("["):
        if not domain.endswith("]"):
            raise InvalidJID(f"invalid domain part {_show(raw)}: IP literal without closing ']'")
        try:
            if "%" in domain:
                raise ValueError("zone identifiers are not supported")
            ipaddress.IPv6Address(domain[1:-1])
        except ValueError as exc:
            raise InvalidJID(f"invalid domain part {_show(raw)}: bad IPv6 literal: {exc}") from None
        return domain.lower()
    if _IPV4.fullmatch(domain):
        return domain
    mapped = unicodedata.normalize("NFC", _width_map(domain).lower())
    return ".".join(_prep_label(label, raw) for label in mapped.split("."))


def _prep_domain(raw: str, fast: bool = True) -> str:
    """Prepare a domainpart (RFC 7622 section 3.2): IP literal, IPv4 address or IDN."""
    if fast and len(raw) <= MAX_PART_OCTETS and "--" not in raw and _DOMAIN_FAST.fullmatch(raw):
        return raw
    if not raw:
        raise InvalidJID("empty domain part")
    _check_raw_length("domain part", raw)
    prepared = _prep_domain_slow(raw)
    _check_length("domain part", raw, prepared)
    return prepared


def _split(jid: str) -> tuple[str | None, str, str | None]:
    """Split per RFC 7622 section 3.2: resource from the first '/', local up to the first '@'."""
    head, slash, resource = jid.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        return None, local, resource if slash else None
    return local, domain, resource if slash else None


def _prepare(local: str | None, domain: str, resource: str | None, *, fast: bool = True) -> _Parts:
    """Prepare the three parts; ``fast=False`` forces PRECIS/IDNA for every part (tests)."""
    return (
        None if local is None else _prep_local(local, fast),
        _prep_domain(domain, fast),
        None if resource is None else _prep_resource(resource, fast),
    )


def _prepare_string(jid: str, *, fast: bool = True) -> _Parts:
    """Split and prepare a full JID string (uncached)."""
    local, domain, resource = _split(jid)
    return _prepare(local, domain, resource, fast=fast)


def _format(local: str | None, domain: str, resource: str | None) -> str:
    text = domain if local is None else f"{local}@{domain}"
    return text if resource is None else f"{text}/{resource}"


@final
class JID:
    """An XMPP address (RFC 7622), prepared, immutable and hashable.

    ``JID("juliet@example.com/balcony")`` parses a string; ``JID(local="juliet",
    domain="example.com", resource="balcony")`` builds one from parts (``local`` and ``resource``
    are optional; each part is taken whole, so a resource may contain '/' and '@'). Passing a
    JID returns it unchanged. Invalid input raises :class:`~fastxmpp.errors.InvalidJID` (a
    ``ValueError``); a non-string raises ``TypeError``.

    A JID compares equal only to another JID with the same prepared form: ``JID("a@b") ==
    "a@b"`` is False, compare with ``str(jid)`` or ``JID(text)`` instead. Instances are shared
    through a cache, so never rely on identity.
    """

    __slots__ = ("_bare", "_domain", "_local", "_resource", "_str")

    _local: str | None
    _domain: str
    _resource: str | None
    _str: str
    _bare: JID | None

    def __new__(
        cls,
        jid: str | JID | None = None,
        /,
        *,
        local: str | None = None,
        domain: str | None = None,
        resource: str | None = None,
    ) -> JID:
        if jid.__class__ is str and local is None and domain is None and resource is None:
            return parse_jid(jid)  # the hot path, kept short
        if jid is not None:
            if local is not None or domain is not None or resource is not None:
                raise TypeError("JID() takes either a string or keyword parts, not both")
            if isinstance(jid, JID):
                return jid
            if isinstance(jid, str):
                return parse_jid(str(jid))  # a str subclass: cache plain str keys only
            raise TypeError(f"JID() argument must be str, not {type(jid).__name__}")
        if domain is None:
            raise TypeError("JID() needs a string or at least domain=")
        for name, value in (("local", local), ("domain", domain), ("resource", resource)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"JID() {name}= must be str or None, not {type(value).__name__}")
        return _from_parts(local, domain, resource)

    @classmethod
    def _make(cls, local: str | None, domain: str, resource: str | None) -> JID:
        """Build from already prepared parts, bypassing preparation."""
        self = object.__new__(cls)
        _set_local(self, local)
        _set_domain(self, domain)
        _set_resource(self, resource)
        _set_str(self, _format(local, domain, resource))
        _set_bare(self, None)
        return self

    @property
    def local(self) -> str | None:
        """The prepared localpart, or None."""
        return self._local

    @property
    def domain(self) -> str:
        """The prepared domainpart (lowercase, U-labels, no trailing dot)."""
        return self._domain

    @property
    def resource(self) -> str | None:
        """The prepared resourcepart, or None."""
        return self._resource

    @property
    def is_bare(self) -> bool:
        """True when there is no resourcepart."""
        return self._resource is None

    @property
    def bare(self) -> JID:
        """This JID without its resource (``self`` when it has none)."""
        if self._resource is None:
            return self
        bare = self._bare
        if bare is None:
            bare = JID._make(self._local, self._domain, None)
            _set_bare(self, bare)
        return bare

    def with_resource(self, resource: str | None) -> JID:
        """A JID with the same local and domain parts and ``resource`` (prepared); None: bare."""
        if resource is None:
            return self.bare
        if not isinstance(resource, str):
            raise TypeError(f"resource must be str or None, not {type(resource).__name__}")
        return JID._make(self._local, self._domain, _prep_resource(resource))

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return f"JID({self._str!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JID):
            return self._str == other._str
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._str)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"JID is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"JID is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (JID, (self._str,))

    def __copy__(self) -> JID:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> JID:
        return self


# The slots' own setters: __setattr__ refuses every write, and these are twice as fast as
# object.__setattr__ (JID creation is on the path of every received stanza).
_set_local = JID.__dict__["_local"].__set__
_set_domain = JID.__dict__["_domain"].__set__
_set_resource = JID.__dict__["_resource"].__set__
_set_str = JID.__dict__["_str"].__set__
_set_bare = JID.__dict__["_bare"].__set__


def parse_jid(text: str) -> JID:
    """Same as ``JID(text)``, a little faster: for hot paths such as a stanza's ``from``.

    Cached (raw string -> shared immutable JID); errors are not cached.
    """
    if not isinstance(text, str):
        raise TypeError(f"a JID must be parsed from str, not {type(text).__name__}")
    return JID._make(*_prepare_string(str(text)))


if not TYPE_CHECKING:  # keep the precise signature for type checkers
    parse_jid = lru_cache(maxsize=4096)(parse_jid)


@lru_cache(maxsize=1024)
def _from_parts(local: str | None, domain: str, resource: str | None) -> JID:
    return JID._make(*_prepare(local, domain, resource))
