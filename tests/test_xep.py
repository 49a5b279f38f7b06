"""fastxmpp.xep without a real server: the answer parsers on hand-built (and malformed) stanzas,
and a scripted peer that asks the client questions and answers its queries badly."""

from __future__ import annotations

import logging

import pytest
from helpers import wait_for

import fastxmpp
from fastxmpp import JID, IQError
from fastxmpp.connection import connect
from fastxmpp.errors import ProtocolError
from fastxmpp.testing import ScriptedServer
from fastxmpp.xep import Extension
from fastxmpp.xep.disco import (
    INFO_NS,
    ITEMS_NS,
    DiscoInfo,
    DiscoItem,
    Identity,
    parse_info,
    parse_items,
)
from fastxmpp.xep.version import NS as VERSION_NS
from fastxmpp.xep.version import SoftwareVersion, Version, parse_version
from fastxmpp.xml import XML_NS, E, Element, StreamParserPy, iq, tostring

DATA = "jabber:x:data"


def parse(xml: str) -> Element:
    """One stanza from text, through the real parser (default namespace jabber:client)."""
    parser = StreamParserPy()
    items = parser.feed(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        + xml.encode()
    )
    return items[-1]


def result(payload: str, sender: str = "peer.example") -> Element:
    return parse(f"<iq type='result' id='1' from='{sender}'>{payload}</iq>")


# -- disco#info -------------------------------------------------------------------------------


def test_parse_info():
    info = parse_info(
        result(
            f"<query xmlns='{INFO_NS}' node='n1'>"
            "<identity category='client' type='pc' name='Gajim'/>"
            "<identity category='client' type='pc' name='Gajim (de)' xml:lang='de'/>"
            "<identity category='pubsub' type='pep'/>"
            f"<feature var='{INFO_NS}'/>"
            "<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:ping'/>"
            f"<x xmlns='{DATA}' type='result'><field var='FORM_TYPE' type='hidden'>"
            "<value>urn:example:info</value></field></x>"
            "<unknown xmlns='urn:example'/>"
            "</query>"
        )
    )
    assert info.jid == JID("peer.example") and info.node == "n1"
    assert info.identities == (
        Identity("client", "pc", "Gajim"),
        Identity("client", "pc", "Gajim (de)", "de"),
        Identity("pubsub", "pep"),
    )
    assert info.features == {INFO_NS, "urn:xmpp:ping"}
    assert len(info.identities_of("client")) == 2 and info.identities_of("client", "phone") == []
    assert info.form("urn:example:info") is info.forms[0] and info.form("urn:other") is None


def test_parse_info_skips_what_is_unusable_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep.disco"):
        info = parse_info(
            result(
                f"<query xmlns='{INFO_NS}'>"
                "<identity type='pc'/><identity category='client'/><identity category='' type=''/>"
                "<identity category='client' type='bot'/>"
                "<feature/><feature var=''/><feature var='urn:ok'/>"
                "</query>"
            )
        )
    assert info.identities == (Identity("client", "bot"),) and info.features == {"urn:ok"}
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "skipped 5 of 7" in message and "peer.example" in message


def test_parse_info_without_a_query_is_a_protocol_error():
    for stanza in (
        result(""),
        result(f"<query xmlns='{ITEMS_NS}'/>"),  # the wrong query
        result(f"<other xmlns='{INFO_NS}'/>"),
    ):
        with pytest.raises(ProtocolError) as error:
            parse_info(stanza)
        assert "no <query" in str(error.value) and error.value.stanza is stanza
    assert isinstance(ProtocolError("x"), fastxmpp.XMPPError)


def test_parse_info_takes_what_was_asked_when_the_answer_does_not_say():
    stanza = parse(f"<iq type='result' id='1'><query xmlns='{INFO_NS}'/></iq>")
    assert parse_info(stanza) == DiscoInfo()
    info = parse_info(stanza, jid=JID("me@example.org"), node="n")
    assert (info.jid, info.node, info.identities, info.features) == (
        JID("me@example.org"),
        "n",
        (),
        frozenset(),
    )
    query = stanza[0]
    assert parse_info(query) == DiscoInfo()  # the query element alone works too


def test_disco_info_round_trip():
    form = E(f"{{{DATA}}}x", type="result")
    info = DiscoInfo(
        identities=[Identity("client", "bot", "Bot"), Identity("client", "bot", "Bot", "de")],
        features={"urn:b", "urn:a"},
        forms=[form],
    )
    payload = info.to_element("node")
    assert [c.get("var") for c in payload if c.tag.endswith("feature")] == ["urn:a", "urn:b"]
    assert payload[1].get(f"{{{XML_NS}}}lang") == "de"
    stanza = parse(
        tostring(iq("result", payload, id="1"), default_namespace="jabber:client").decode()
    )
    back = parse_info(stanza)
    assert (back.node, back.identities, back.features) == ("node", info.identities, info.features)
    assert len(back.forms) == 1


def test_records_check_what_they_are_given():
    with pytest.raises(ValueError):
        Identity("", "pc")
    with pytest.raises(ValueError):
        Identity("client", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DiscoInfo(features="urn:a")  # type: ignore[arg-type]
    with pytest.raises(fastxmpp.InvalidJID):
        DiscoItem("a@b@c")  # type: ignore[arg-type]
    assert DiscoItem("Room@Example.org").jid == JID("room@example.org")  # type: ignore[arg-type]
    assert DiscoInfo(features=["a"]).features == frozenset({"a"})
    with pytest.raises(AttributeError):
        Identity("client", "pc").name = "x"  # type: ignore[misc]


# -- disco#items ------------------------------------------------------------------------------


def test_parse_items():
    items = parse_items(
        result(
            f"<query xmlns='{ITEMS_NS}'>"
            "<item jid='conference.example.org' name='Chatrooms'/>"
            "<item jid='example.org' node='music/D'/>"
            "<other jid='ignored.example'/>"
            "</query>"
        )
    )
    assert items == [
        DiscoItem(JID("conference.example.org"), None, "Chatrooms"),
        DiscoItem(JID("example.org"), "music/D"),
    ]
    assert parse_items(result(f"<query xmlns='{ITEMS_NS}'/>")) == []


def test_parse_items_skips_bad_jids_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="fastxmpp.xep.disco"):
        items = parse_items(
            result(
                f"<query xmlns='{ITEMS_NS}'>"
                "<item name='no jid'/><item jid='a@b@c'/><item jid=''/>"
                f"<item jid='{'x' * 2000}@example.org'/>"
                "<item jid='good.example'/>"
                "</query>"
            )
        )
    assert items == [DiscoItem(JID("good.example"))]
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "skipped 4 of 5 items" in message and len(message) < 1000


def test_parse_items_without_a_query_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        parse_items(result(f"<query xmlns='{INFO_NS}'/>"))


# -- software version -------------------------------------------------------------------------


def test_parse_version():
    q = f"<query xmlns='{VERSION_NS}'>"
    assert parse_version(
        result(f"{q}<name>Exodus</name><version>0.7.0.4</version><os>Windows-XP</os></query>")
    ) == SoftwareVersion("Exodus", "0.7.0.4", "Windows-XP")
    assert parse_version(result(f"{q}<name> Bot\n</name></query>")) == SoftwareVersion("Bot", None)
    assert parse_version(result(f"{q}<name/><version></version></query>")) == SoftwareVersion(
        None, None
    )
    assert parse_version(result(f"{q}</query>")) == SoftwareVersion(None, None, None)
    with pytest.raises(ProtocolError):
        parse_version(result(""))


def test_version_settings_are_checked():
    conn = fastxmpp.Connection("alice@localhost", "pw")
    try:
        assert conn.version.software == SoftwareVersion("fastxmpp", fastxmpp.__version__)
        with pytest.raises(ValueError):
            conn.version.set(name="")
        with pytest.raises(TypeError):
            conn.version.set(colour="blue")
        with pytest.raises(TypeError):
            conn.version.software = ("a", "b")  # type: ignore[assignment]
        assert conn.version.software.os is None and Version.detect_os()
    finally:
        conn.close()


def test_disco_settings_are_checked():
    conn = fastxmpp.Connection("alice@localhost", "pw")
    try:
        disco = conn.disco
        with pytest.raises(ValueError):
            disco.add_identity("client", "pc")  # there is one already
        disco.add_identity("client", "pc", lang="de")
        disco.remove_identity("client", "pc", lang="de")
        with pytest.raises(ValueError):
            disco.remove_identity("client", "pc", lang="de")
        with pytest.raises(ValueError):
            disco.remove_identity("client", "pc")  # the last one
        with pytest.raises(ValueError):
            disco.add_feature("")
        with pytest.raises(ValueError):
            disco.set_node("", info=DiscoInfo())
        with pytest.raises(TypeError):
            disco.set_node("n", info="not info")  # type: ignore[arg-type]
        assert disco.own_info("n") is None and disco.own_items("n") is None
        disco.add_item("a.example", name="A")
        disco.add_item("a.example", name="A again")  # the same jid and node: replaced
        assert disco.own_items() == (DiscoItem(JID("a.example"), None, "A again"),)
    finally:
        conn.close()


def test_extensions_need_a_name():
    with pytest.raises(TypeError):

        class Nameless(Extension):
            pass

    class Listed(Extension):
        name = "listed"
        features = ["urn:a"]  # type: ignore[assignment]

    assert Listed.features == frozenset({"urn:a"})


# -- a scripted peer --------------------------------------------------------------------------


def plain(server: ScriptedServer):
    return {"host": server.host, "port": server.port, "tls": "disabled", "timeout": 5}


#: What the scripted server answers to the client's queries, by the address they were sent to.
CANNED = {
    "empty.localhost": "",
    "messy.localhost": {
        INFO_NS: f"<query xmlns='{INFO_NS}'><identity type='pc'/><feature var='urn:ok'/></query>",
        ITEMS_NS: f"<query xmlns='{ITEMS_NS}'><item jid='@bad'/><item jid='ok.localhost'/></query>",
        VERSION_NS: f"<query xmlns='{VERSION_NS}'><version>1</version></query>",
    },
}


def answering(questions: list[str], answers: list[Element]):
    """A script: after login, ask the client ``questions``, collect its answers, and answer
    the client's own queries from CANNED."""

    def script(link):
        link.login()
        for i, question in enumerate(questions):
            link.send(f"<iq type='get' id='q{i}'{question}</iq>")
        for item in link.stanzas():
            if item.get("id", "").startswith("q"):
                answers.append(item)
                continue
            to, ns = item.get("to"), item[0].tag[1:].partition("}")[0]
            canned = CANNED[to]
            payload = canned if isinstance(canned, str) else canned[ns]
            link.send(f"<iq type='result' id='{item.get('id')}' from='{to}'>{payload}</iq>")

    return script


def test_malformed_answers_give_clear_errors_or_skip_the_bad_parts(caplog):
    with ScriptedServer(answering([], [])) as server:
        with connect("alice@localhost", "pw", **plain(server)) as conn:
            for query in (conn.disco.info, conn.disco.items, conn.version.query):
                with pytest.raises(ProtocolError):
                    query("empty.localhost")
            future = conn.disco.info_async("empty.localhost")
            assert isinstance(future.exception(5), ProtocolError)
            with caplog.at_level(logging.WARNING, logger="fastxmpp.xep.disco"):
                assert conn.disco.info("messy.localhost").features == {"urn:ok"}
                assert conn.disco.items_async("messy.localhost").result(5) == [
                    DiscoItem(JID("ok.localhost"))
                ]
            assert len(caplog.records) == 2
            assert conn.version.query("messy.localhost") == SoftwareVersion(None, "1")
            assert conn.connected  # none of it hurt the connection
        assert not server.errors


def test_the_client_answers_from_the_first_stanza_on():
    """Questions sent right after the bind result are answered: nothing needs registering."""
    answers: list[Element] = []
    questions = [
        f"><query xmlns='{INFO_NS}'/>",
        f" from='peer@localhost/x'><query xmlns='{VERSION_NS}'/>",
        f"><query xmlns='{ITEMS_NS}'/>",
        f"><query xmlns='{INFO_NS}' node='nowhere'/>",
        f"><wrong xmlns='{INFO_NS}'/>",
        "><query xmlns='urn:example:unknown'/>",
    ]
    with ScriptedServer(answering(questions, answers)) as server:
        with connect("alice@localhost", "pw", **plain(server)):
            assert wait_for(lambda: len(answers) == len(questions))
        assert not server.errors
    by_id = {a.get("id"): a for a in answers}
    info = parse_info(by_id["q0"])
    assert info.identities == (Identity("client", "pc", "fastxmpp"),)
    assert info.features == {"urn:xmpp:ping", INFO_NS, ITEMS_NS, VERSION_NS}
    version = by_id["q1"]
    assert version.get("to") == "peer@localhost/x"
    assert parse_version(version) == SoftwareVersion("fastxmpp", fastxmpp.__version__)
    assert parse_items(by_id["q2"]) == []
    conditions = {}
    for key in ("q3", "q4", "q5"):
        assert by_id[key].get("type") == "error"
        conditions[key] = fastxmpp.stream.parse_stanza_error(by_id[key], IQError).condition
    assert conditions == {
        "q3": "item-not-found",
        "q4": "bad-request",
        "q5": "service-unavailable",
    }
