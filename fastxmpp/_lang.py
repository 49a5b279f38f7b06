"""Texts by language (``<body/>``, ``<subject/>``, ``<status/>``): collect them, pick one.

RFC 6120 section 8.1.5 lets a stanza carry one such child per language, told apart by
``xml:lang``. A child without ``xml:lang`` inherits the stanza's; one without either is keyed
``""`` ("not said"). The stream's language is not inherited on purpose: it is the language the
*server* declared for its stream, which says nothing about the text a remote sender wrote.
"""

from __future__ import annotations

from fastxmpp.xml import XML_NS, Element

XML_LANG = f"{{{XML_NS}}}lang"


def texts_by_lang(stanza: Element, tag: str) -> dict[str, str]:
    """``{lang: text}`` of the ``tag`` children of ``stanza``; the first per language wins."""
    default = stanza.get(XML_LANG) or ""
    texts: dict[str, str] = {}
    for child in stanza:
        if child.tag == tag:
            lang = child.get(XML_LANG)
            key = default if lang is None else lang
            if key not in texts:
                texts[key] = child.text or ""
    return texts


def pick(texts: dict[str, str], lang: str | None, default: str = "") -> str | None:
    """The text in ``lang`` (exactly, then by primary subtag: ``en`` matches ``en-GB``), else
    the one keyed ``default`` (the language of a child without ``xml:lang``), else the first."""
    if not texts:
        return None
    if lang:
        found = texts.get(lang)
        if found is not None:
            return found
        wanted = lang.lower()
        primary = wanted.partition("-")[0]
        for key, text in texts.items():
            if key.lower() == wanted:
                return text
        for key, text in texts.items():
            if key and key.lower().partition("-")[0] == primary:
                return text
    found = texts.get(default)
    if found is not None:
        return found
    return next(iter(texts.values()))
