"""XEP-0030 service discovery and XEP-0092 software version against a real Prosody."""

from __future__ import annotations

import threading

import pytest

import fastxmpp
from fastxmpp import JID, IQError, StanzaError
from fastxmpp.connection import connect
from fastxmpp.testing import ProsodyServer
from fastxmpp.xep import Extension
from fastxmpp.xep.disco import INFO_NS, ITEMS_NS, Disco, DiscoInfo, DiscoItem, Identity
from fastxmpp.xep.version import NS as VERSION_NS
from fastxmpp.xep.version import SoftwareVersion, Version
from fastxmpp.xml import E

PING_NS = "urn:xmpp:ping"
CLIENT_FEATURES = {PING_NS, INFO_NS, ITEMS_NS, VERSION_NS}


def options(server: ProsodyServer):
    return {"host": server.host, "port": server.c2s_port, "ca_file": server.ca_file, "timeout": 10}


@pytest.fixture
def alice(prosody, prosody_account):
    """A bare Connection (the layer the extensions live on): no roster, no presence."""
    account = prosody_account("alice")
    with connect(account.jid, account.password, **options(prosody)) as conn:
        yield conn


@pytest.fixture
def bob(prosody, prosody_account):
    account = prosody_account("bob")
    with connect(account.jid, account.password, **options(prosody)) as conn:
        yield conn


# -- the server and its components ----------------------------------------------------------


def test_server_info(prosody, alice):
    info = alice.disco.info(prosody.domain)
    assert info.jid == JID(prosody.domain) and info.node is None
    assert [(i.category, i.type, i.name) for i in info.identities_of("server")] == [
        ("server", "im", "Prosody")
    ]
    assert info.identities_of("server", "im") == info.identities_of("server")
    assert info.identities_of("server", "pc") == []
    assert info.has_feature(PING_NS) and info.has_feature(INFO_NS)
    assert not info.has_feature("urn:example:nothing")
    assert isinstance(info.features, frozenset)


def test_server_items_list_the_conference_component(prosody, alice):
    items = alice.disco.items(prosody.domain)
    assert DiscoItem(JID(prosody.muc_domain)) in items
    assert all(isinstance(item.jid, JID) for item in items)


def test_conference_component_is_a_text_conference(prosody, alice):
    info = alice.disco.info(prosody.muc_domain)
    assert info.identities_of("conference", "text")
    assert info.has_feature("http://jabber.org/protocol/muc")


def test_server_software_version(prosody, alice):
    software = alice.version.query(prosody.domain)
    assert software.name == "Prosody"
    assert software.version  # "0.12.3" and the like


def test_our_own_account_as_the_server_answers_for_it(alice):
    info = alice.disco.info(alice.jid.bare)
    assert info.identities_of("account")  # account/registered, answered by the server


# -- one client asking another --------------------------------------------------------------


def test_a_client_answers_disco_info_with_its_identity_and_features(alice, bob):
    info = alice.disco.info(bob.jid)
    assert info.jid == bob.jid
    assert info.identities == (Identity("client", "pc", "fastxmpp"),)
    assert info.features == CLIENT_FEATURES == bob.supported_features


def test_an_im_connection_answers_too(prosody, prosody_account, alice):
    account = prosody_account("im")
    with fastxmpp.connect(account.jid, account.password, **options(prosody)) as im:
        info = alice.disco.info(im.jid)
        assert info.identities_of("client", "pc") and CLIENT_FEATURES <= info.features
        assert alice.version.query(im.jid).name == "fastxmpp"
        assert im.disco.info(alice.jid).features == CLIENT_FEATURES


def test_features_and_identity_changed_at_run_time_show_up(alice, bob):
    bob.disco.add_feature("urn:example:feature")
    assert alice.disco.info(bob.jid).has_feature("urn:example:feature")
    bob.disco.remove_feature("urn:example:feature")
    bob.disco.remove_feature(VERSION_NS)  # hiding what an extension brings
    features = alice.disco.info(bob.jid).features
    assert features == CLIENT_FEATURES - {VERSION_NS}
    bob.disco.add_feature(VERSION_NS)
    bob.disco.set_identity("client", "bot", "Echo")
    bob.disco.add_identity("client", "bot", "Echo-Bot", lang="de")
    info = alice.disco.info(bob.jid)
    assert info.features == CLIENT_FEATURES
    assert info.identities == (
        Identity("client", "bot", "Echo"),
        Identity("client", "bot", "Echo-Bot", "de"),
    )


def test_a_client_has_no_items_until_some_are_added(alice, bob):
    assert alice.disco.items(bob.jid) == []
    bob.disco.add_item("room@conference.localhost", name="The room")
    bob.disco.add_item(bob.jid, node="urn:example:node")
    assert alice.disco.items(bob.jid) == [
        DiscoItem(JID("room@conference.localhost"), None, "The room"),
        DiscoItem(bob.jid, "urn:example:node"),
    ]
    bob.disco.remove_item("room@conference.localhost")
    assert alice.disco.items(bob.jid) == [DiscoItem(bob.jid, "urn:example:node")]


def test_an_unknown_node_is_item_not_found(alice, bob):
    with pytest.raises(IQError) as info_error:
        alice.disco.info(bob.jid, node="urn:example:nowhere")
    with pytest.raises(IQError) as items_error:
        alice.disco.items(bob.jid, node="urn:example:nowhere")
    assert info_error.value.condition == items_error.value.condition == "item-not-found"


def test_registered_nodes_answer_fixed_or_computed_information(alice, bob):
    commands = "http://jabber.org/protocol/commands"
    bob.disco.set_node(
        commands,
        info=DiscoInfo(identities=[Identity("automation", "command-list")], features=[commands]),
        items=[DiscoItem(bob.jid, "ping", "Ping")],
    )
    info = alice.disco.info(bob.jid, node=commands)
    assert info.node == commands and info.jid == bob.jid
    assert info.identities == (Identity("automation", "command-list"),)
    assert info.features == {commands}
    assert alice.disco.items(bob.jid, node=commands) == [DiscoItem(bob.jid, "ping", "Ping")]

    asked_by = []

    def private(requester):
        asked_by.append(requester)
        if requester != alice.jid:
            raise StanzaError("forbidden", "auth")
        return DiscoInfo(identities=[Identity("hierarchy", "leaf")])

    bob.disco.set_node("secret", info=private)  # no items: disco#items gives an empty list
    assert alice.disco.info(bob.jid, node="secret").identities_of("hierarchy", "leaf")
    assert asked_by == [alice.jid]
    assert alice.disco.items(bob.jid, node="secret") == []
    bob.disco.set_node("items-only", items=lambda requester: [DiscoItem(requester)])
    assert alice.disco.items(bob.jid, node="items-only") == [DiscoItem(alice.jid)]
    with pytest.raises(IQError) as error:  # no info registered for it
        alice.disco.info(bob.jid, node="items-only")
    assert error.value.condition == "item-not-found"

    bob.disco.remove_node("secret")
    with pytest.raises(IQError):
        alice.disco.info(bob.jid, node="secret")


def test_a_computed_node_can_refuse(alice, bob):
    def refuse(requester):
        raise StanzaError("forbidden", "auth", "not for you")

    bob.disco.set_node("closed", info=refuse, items=lambda requester: None)
    with pytest.raises(IQError) as error:
        alice.disco.info(bob.jid, node="closed")
    assert (error.value.condition, error.value.type, error.value.text) == (
        "forbidden",
        "auth",
        "not for you",
    )
    with pytest.raises(IQError) as error:  # None: no such node
        alice.disco.items(bob.jid, node="closed")
    assert error.value.condition == "item-not-found"


def test_a_client_answers_its_software_version_without_the_os_by_default(alice, bob):
    assert alice.version.query(bob.jid) == SoftwareVersion("fastxmpp", fastxmpp.__version__)
    bob.version.set(os=Version.detect_os())
    assert alice.version.query(bob.jid).os == Version.detect_os()
    bob.version.set(name="echo-bot", version="2.0", os=None)
    assert alice.version.query(bob.jid) == SoftwareVersion("echo-bot", "2.0", None)


def test_a_users_own_iq_handler_takes_precedence(alice, bob):
    @bob.on("iq", type="get", namespace=VERSION_NS)
    def mine(request):
        return E(f"{{{VERSION_NS}}}query", E(f"{{{VERSION_NS}}}name", "mine"))

    assert alice.version.query(bob.jid) == SoftwareVersion("mine", None)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["nobody@{domain}", "nobody@{domain}/res", "{bob}/gone"])
def test_a_jid_that_does_not_exist(prosody, alice, bob, target):
    jid = target.format(domain=prosody.domain, bob=bob.jid.bare)
    # XEP-0030 section 9: a server must not reveal whether an account exists
    for query in (alice.disco.info, alice.disco.items, alice.version.query):
        with pytest.raises(IQError) as error:
            query(jid, timeout=10)
        assert error.value.condition == "service-unavailable"


def test_a_remote_domain_without_server_to_server(alice):
    with pytest.raises(IQError) as error:
        alice.disco.info("elsewhere.example")
    assert error.value.condition in ("not-allowed", "remote-server-not-found")


def test_bad_arguments(alice):
    with pytest.raises(fastxmpp.InvalidJID):
        alice.disco.info("a@b@c")
    with pytest.raises(ValueError):
        alice.disco.items("localhost", node="")


# -- many queries at once -------------------------------------------------------------------


def test_async_queries(prosody, alice, bob):
    futures = {
        "server": alice.disco.info_async(prosody.domain),
        "muc": alice.disco.info_async(prosody.muc_domain),
        "bob": alice.disco.info_async(bob.jid),
        "items": alice.disco.items_async(prosody.domain),
        "version": alice.version.query_async(bob.jid),
        "missing": alice.disco.info_async(f"nobody@{prosody.domain}"),
    }
    assert futures["server"].result(10).identities_of("server", "im")
    assert futures["muc"].result(10).identities_of("conference", "text")
    assert futures["bob"].result(10).features == CLIENT_FEATURES
    assert DiscoItem(JID(prosody.muc_domain)) in futures["items"].result(10)
    assert futures["version"].result(10).name == "fastxmpp"
    error = futures["missing"].exception(10)
    assert isinstance(error, IQError) and error.condition == "service-unavailable"


def test_async_callbacks_run_on_the_callback_thread(prosody, alice):
    done = threading.Event()
    seen = []

    def callback(future):
        seen.append((threading.current_thread().name, future.result().jid))
        done.set()

    alice.disco.info_async(prosody.domain).add_done_callback(callback)
    assert done.wait(10)
    assert seen[0][0].startswith("fastxmpp-callbacks") and seen[0][1] == JID(prosody.domain)


def test_a_callback_may_wait_for_another_query(prosody, alice):
    """A query's answer is parsed where it arrives, so a callback can wait for it."""
    done = threading.Event()
    results = []

    def on_first(future):
        info = alice.disco.info_async(prosody.muc_domain).result(10)
        results.append(info.identities_of("conference"))
        done.set()

    alice.disco.items_async(prosody.domain).add_done_callback(on_first)
    assert done.wait(10)
    assert results[0]


# -- the extension mechanism ----------------------------------------------------------------


class Echo(Extension):
    """A made-up extension: answers urn:example:echo requests with what they carried."""

    name = "echo"
    features = frozenset({"urn:example:echo"})

    def __init__(self, connection):
        super().__init__(connection)
        self.answered = 0
        self.serve_iq("set", "urn:example:echo", self._answer)

    def _answer(self, request):
        self.answered += 1
        return request[0]

    def echo(self, jid, text):
        stanza = fastxmpp.xml.iq("set", E("{urn:example:echo}echo", text), to=jid)
        return self.request(stanza, lambda answer: answer[0].text)


def test_an_extension_attached_at_run_time_answers_and_is_announced(alice, bob):
    assert "urn:example:echo" not in alice.disco.info(bob.jid).features
    with pytest.raises(IQError) as error:
        alice.extension(Echo).echo(bob.jid, "hello")
    assert error.value.condition == "service-unavailable"
    echo = bob.extension(Echo)
    assert bob.extension(Echo) is echo and echo in bob.extensions
    assert alice.extension(Echo).echo(bob.jid, "hello") == "hello"
    assert echo.answered == 1
    assert alice.disco.info(bob.jid).features == CLIENT_FEATURES | {"urn:example:echo"}


def test_disco_and_version_are_attached_from_the_start():
    conn = fastxmpp.Connection("alice@localhost", "pw")
    try:
        assert conn.extension(Disco) is conn.disco and conn.extension(Version) is conn.version
        assert [type(ext) for ext in conn.extensions] == [Disco, Version]
        assert conn.supported_features == CLIENT_FEATURES
        with pytest.raises(TypeError):
            conn.extension(dict)  # type: ignore[type-var]
    finally:
        conn.close()
