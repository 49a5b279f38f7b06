"""Tests for fastxmpp.sasl: SCRAM (RFC 5802/7677 vectors), channel binding, selection, hostility."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastxmpp.errors import AuthenticationError, XMPPError
from fastxmpp.sasl import (
    MAX_ITERATIONS,
    MECHANISMS,
    AnonymousMechanism,
    Credentials,
    ExternalMechanism,
    Mechanism,
    PlainMechanism,
    ScramMechanism,
    decode_payload,
    encode_payload,
    select_mechanism,
)

USER = Credentials("user", "pencil")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- an independent SCRAM computation (RFC 5802 section 3, written out plainly) -------------------


def reference_scram(
    hash_name: str,
    password: str,
    client_first_bare: str,
    server_first: str,
    client_final_without_proof: str,
) -> tuple[str, str]:
    """Return (base64 ClientProof, base64 ServerSignature) for one exchange."""
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salt = base64.b64decode(attrs["s"])
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    auth = f"{client_first_bare},{server_first},{client_final_without_proof}".encode()
    client_signature = hmac.new(stored_key, auth, hash_name).digest()
    proof = bytes(x ^ y for x, y in zip(client_key, client_signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return b64(proof), b64(hmac.new(server_key, auth, hash_name).digest())


SALT = b64(b"0123456789abcdef")
CNONCE = "clientNONCEclientNONCE"
SNONCE = CNONCE + "serverPART"
SERVER_FIRST = f"r={SNONCE},s={SALT},i=4096"


def run_to_server_first(mech: ScramMechanism, server_first: str = SERVER_FIRST) -> bytes:
    mech.initial_response()
    return mech.challenge(server_first.encode())


def fresh(hash_name: str = "SHA-256", **kwargs: object) -> ScramMechanism:
    return ScramMechanism(USER, hash_name, nonce=CNONCE, **kwargs)  # type: ignore[arg-type]


def server_final_for(mech_hash: str, gs2: str, cbdata: bytes = b"", password: str = "pencil"):
    cbind = b64(gs2.encode() + cbdata)
    without_proof = f"c={cbind},r={SNONCE}"
    proof, sig = reference_scram(
        mech_hash, password, f"n=user,r={CNONCE}", SERVER_FIRST, without_proof
    )
    return f"{without_proof},p={proof}".encode(), f"v={sig}".encode()


# --- RFC test vectors -----------------------------------------------------------------------------


def test_rfc5802_scram_sha1_example() -> None:
    mech = ScramMechanism(USER, "SHA-1", nonce="fyko+d2lbbFgONRv9qkxdawL")
    assert mech.name == "SCRAM-SHA-1"
    assert mech.initial_response() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    answer = mech.challenge(
        b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    )
    assert answer == (
        b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    )
    assert not mech.server_verified
    mech.success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
    assert mech.server_verified and mech.complete


RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_rfc7677_scram_sha256_example_final_in_success() -> None:
    mech = ScramMechanism(USER, "SHA-256", nonce="rOprNGfwEbeRWgbNEkqO")
    assert mech.initial_response() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert mech.challenge(RFC7677_SERVER_FIRST) == RFC7677_CLIENT_FINAL
    mech.success(RFC7677_SERVER_FINAL)
    assert mech.server_verified and mech.complete


def test_rfc7677_example_final_as_challenge() -> None:
    """Some servers send server-final as a last challenge; we answer empty, then success."""
    mech = ScramMechanism(USER, "SHA-256", nonce="rOprNGfwEbeRWgbNEkqO")
    mech.initial_response()
    mech.challenge(RFC7677_SERVER_FIRST)
    assert mech.challenge(RFC7677_SERVER_FINAL) == b""
    assert mech.server_verified and not mech.complete
    mech.success(None)
    assert mech.complete


@pytest.mark.parametrize("data", [b"", RFC7677_SERVER_FINAL])
def test_success_after_final_challenge_accepts_empty_or_same(data: bytes) -> None:
    mech = ScramMechanism(USER, "SHA-256", nonce="rOprNGfwEbeRWgbNEkqO")
    mech.initial_response()
    mech.challenge(RFC7677_SERVER_FIRST)
    mech.challenge(RFC7677_SERVER_FINAL)
    mech.success(data)
    assert mech.complete


def test_success_after_final_challenge_with_other_data_fails() -> None:
    mech = ScramMechanism(USER, "SHA-256", nonce="rOprNGfwEbeRWgbNEkqO")
    mech.initial_response()
    mech.challenge(RFC7677_SERVER_FIRST)
    mech.challenge(RFC7677_SERVER_FINAL)
    with pytest.raises(AuthenticationError, match="differs"):
        mech.success(b"v=AAAA")


def test_rfc7677_wrong_signature() -> None:
    mech = ScramMechanism(USER, "SHA-256", nonce="rOprNGfwEbeRWgbNEkqO")
    mech.initial_response()
    mech.challenge(RFC7677_SERVER_FIRST)
    bad = b"v=" + b64(b"\x00" * 32).encode()
    with pytest.raises(AuthenticationError, match="signature is wrong") as info:
        mech.success(bad)
    assert info.value.condition is None
    assert not mech.server_verified and not mech.complete


# --- SCRAM-SHA-512 and SHA-1/256 against the reference --------------------------------------------


@pytest.mark.parametrize(
    ("hash_name", "py_hash"), [("SHA-1", "sha1"), ("SHA-256", "sha256"), ("SHA-512", "sha512")]
)
def test_scram_against_reference(hash_name: str, py_hash: str) -> None:
    mech = fresh(hash_name)
    assert mech.name == f"SCRAM-{hash_name}"
    final, verifier = server_final_for(py_hash, "n,,")
    assert run_to_server_first(mech) == final
    mech.success(verifier)
    assert mech.server_verified


def test_scram_sha512_wrong_signature() -> None:
    mech = fresh("SHA-512")
    run_to_server_first(mech)
    _, verifier = server_final_for("sha512", "n,,", password="not-pencil")
    with pytest.raises(AuthenticationError, match="signature"):
        mech.success(verifier)
    assert not mech.server_verified


def test_scram_sha512_signature_of_another_hash_is_refused() -> None:
    mech = fresh("SHA-512")
    run_to_server_first(mech)
    _, verifier = server_final_for("sha256", "n,,")
    with pytest.raises(AuthenticationError):
        mech.success(verifier)


def test_server_first_extensions_are_ignored_but_in_auth_message() -> None:
    server_first = SERVER_FIRST + ",x=future"
    mech = fresh("SHA-256")
    answer = run_to_server_first(mech, server_first)
    without_proof = f"c=biws,r={SNONCE}"
    proof, sig = reference_scram(
        "sha256", "pencil", f"n=user,r={CNONCE}", server_first, without_proof
    )
    assert answer == f"{without_proof},p={proof}".encode()
    mech.success(f"v={sig}".encode())


# --- names, SASLprep, nonce -----------------------------------------------------------------------


def test_username_and_authzid_escaping() -> None:
    mech = ScramMechanism(Credentials("a=b,c", "pw", authzid="x,y=z"), nonce=CNONCE)
    assert mech.initial_response() == f"n,a=x=2Cy=3Dz,n=a=3Db=2Cc,r={CNONCE}".encode()


def test_authzid_goes_into_cbind() -> None:
    creds = Credentials("user", "pencil", authzid="admin")
    mech = ScramMechanism(creds, "SHA-256", nonce=CNONCE)
    assert mech.initial_response().startswith(b"n,a=admin,n=user,")
    answer = mech.challenge(SERVER_FIRST.encode())
    assert answer.startswith(f"c={b64(b'n,a=admin,')},".encode())


def test_password_is_prepared_with_opaquestring() -> None:
    # U+00A0 (no-break space) maps to U+0020; a decomposed e-acute is composed (NFC).
    first = ScramMechanism(Credentials("user", "p\u00a0w\u0065\u0301"), nonce=CNONCE)
    second = ScramMechanism(Credentials("user", "p w\u00e9"), nonce=CNONCE)
    assert run_to_server_first(first) == run_to_server_first(second)


@pytest.mark.parametrize("password", ["", "bad\x07bell", "\u200b"])
def test_password_that_cannot_be_prepared_is_a_caller_error(password: str) -> None:
    with pytest.raises(ValueError):
        ScramMechanism(Credentials("user", password))


def test_default_nonce_is_random_and_long() -> None:
    nonces = set()
    for _ in range(3):
        first = ScramMechanism(USER).initial_response()
        nonce = first.decode().split(",r=", 1)[1]
        assert len(base64.b64decode(nonce)) >= 24 and "," not in nonce
        nonces.add(nonce)
    assert len(nonces) == 3


@pytest.mark.parametrize("nonce", ["", "has,comma", "sp ace", "caf\u00e9"])
def test_bad_fixed_nonce_is_a_caller_error(nonce: str) -> None:
    with pytest.raises(ValueError):
        ScramMechanism(USER, nonce=nonce)


def test_scram_needs_username_and_password() -> None:
    with pytest.raises(ValueError):
        ScramMechanism(Credentials(password="x"))
    with pytest.raises(ValueError):
        ScramMechanism(Credentials("user"))
    with pytest.raises(ValueError):
        ScramMechanism(USER, "MD5")


# --- channel binding ------------------------------------------------------------------------------


CB = bytes(range(32))


@pytest.mark.parametrize("cb_type", ["tls-exporter", "tls-server-end-point"])
def test_plus_header_and_cbind(cb_type: str) -> None:
    mech = fresh("SHA-256", plus=True, channel_binding=(cb_type, CB))
    assert mech.name == "SCRAM-SHA-256-PLUS"
    assert mech.channel_binding_type == cb_type
    gs2 = f"p={cb_type},,"
    assert mech.initial_response() == f"{gs2}n=user,r={CNONCE}".encode()
    answer = mech.challenge(SERVER_FIRST.encode())
    assert answer.startswith(f"c={b64(gs2.encode() + CB)},r=".encode())
    final, verifier = server_final_for("sha256", gs2, CB)
    assert answer == final
    mech.success(verifier)
    assert mech.server_verified


def test_plus_with_authzid() -> None:
    creds = Credentials("user", "pencil", authzid="admin@example.org")
    mech = ScramMechanism(
        creds, "SHA-1", plus=True, channel_binding=("tls-exporter", CB), nonce=CNONCE
    )
    assert mech.initial_response().startswith(b"p=tls-exporter,a=admin@example.org,n=user,")
    answer = mech.challenge(SERVER_FIRST.encode())
    assert answer.startswith(f"c={b64(b'p=tls-exporter,a=admin@example.org,' + CB)},".encode())


def test_y_flag_when_we_could_bind() -> None:
    mech = fresh("SHA-256", channel_binding=("tls-exporter", CB))
    assert mech.name == "SCRAM-SHA-256"
    assert mech.channel_binding_type is None
    assert mech.initial_response() == f"y,,n=user,r={CNONCE}".encode()
    answer = mech.challenge(SERVER_FIRST.encode())
    assert answer.startswith(b"c=eSws,")  # base64("y,,"): no binding data in c=
    final, verifier = server_final_for("sha256", "y,,")
    assert answer == final
    mech.success(verifier)


def test_n_flag_cbind_is_biws() -> None:
    mech = fresh("SHA-256")
    assert mech.initial_response().startswith(b"n,,")
    assert run_to_server_first(ScramMechanism(USER, nonce=CNONCE)).startswith(b"c=biws,")


def test_plus_needs_binding_data() -> None:
    with pytest.raises(ValueError):
        fresh("SHA-256", plus=True)
    with pytest.raises(ValueError):
        fresh("SHA-256", plus=True, channel_binding=("tls-exporter", b""))
    with pytest.raises(ValueError):
        fresh("SHA-256", plus=True, channel_binding=("bad type,", CB))


# --- selection ------------------------------------------------------------------------------------


ALL_SCRAM = [
    "SCRAM-SHA-1",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-512",
    "SCRAM-SHA-512-PLUS",
]


class Binder:
    """A channel_binding callable that records which types were asked for."""

    def __init__(self, **data: bytes | None) -> None:
        self.data = {k.replace("_", "-"): v for k, v in data.items()}
        self.asked: list[str] = []

    def __call__(self, cb_type: str) -> bytes | None:
        self.asked.append(cb_type)
        return self.data.get(cb_type)


def first_message(mech: Mechanism) -> bytes | None:
    return mech.initial_response()


def test_preference_order_with_binding() -> None:
    offered = ["PLAIN", *ALL_SCRAM]
    binder = Binder(tls_exporter=CB)
    mech = select_mechanism(offered, USER, tls=True, channel_binding=binder)
    assert mech.name == "SCRAM-SHA-512-PLUS"
    assert first_message(mech).startswith(b"p=tls-exporter,,")


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["PLAIN", *ALL_SCRAM], "SCRAM-SHA-512"),
        (["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"], "SCRAM-SHA-256"),
        (["SCRAM-SHA-1", "PLAIN"], "SCRAM-SHA-1"),
        (["PLAIN"], "PLAIN"),
        (["X-OAUTH2", "DIGEST-MD5", "PLAIN"], "PLAIN"),
    ],
)
def test_preference_order_without_binding(offered: list[str], expected: str) -> None:
    assert select_mechanism(offered, USER, tls=True).name == expected


def test_plus_beats_a_stronger_hash() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-512", "SCRAM-SHA-1-PLUS"],
        USER,
        tls=True,
        channel_binding=Binder(tls_exporter=CB),
    )
    assert mech.name == "SCRAM-SHA-1-PLUS"


def test_offered_order_does_not_matter() -> None:
    a = select_mechanism(["SCRAM-SHA-1", "SCRAM-SHA-256"], USER, tls=True)
    b = select_mechanism(["SCRAM-SHA-256", "SCRAM-SHA-1"], USER, tls=True)
    assert a.name == b.name == "SCRAM-SHA-256"


@pytest.mark.parametrize(
    ("server_types", "ours", "expected"),
    [
        (None, {"tls_exporter": CB, "tls_server_end_point": CB}, "tls-exporter"),
        (None, {"tls_unique": CB, "tls_server_end_point": CB}, "tls-unique"),
        (
            ["tls-server-end-point", "tls-exporter"],
            {"tls_exporter": CB, "tls_server_end_point": CB},
            "tls-exporter",
        ),
        (
            ["tls-server-end-point"],
            {"tls_exporter": CB, "tls_server_end_point": CB},
            "tls-server-end-point",
        ),
        (["tls-unique", "tls-server-end-point"], {"tls_unique": CB}, "tls-unique"),
        (["tls-exporter", "tls-unique"], {"tls_exporter": None, "tls_unique": CB}, "tls-unique"),
    ],
)
def test_channel_binding_type_choice(
    server_types: list[str] | None, ours: dict[str, bytes | None], expected: str
) -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        USER,
        tls=True,
        channel_binding=Binder(**ours),
        server_cb_types=server_types,
    )
    assert isinstance(mech, ScramMechanism)
    assert mech.name == "SCRAM-SHA-256-PLUS"
    assert mech.channel_binding_type == expected
    assert first_message(mech).startswith(f"p={expected},,".encode())


def test_rfc_defaults_when_server_advertised_nothing() -> None:
    """No XEP-0440 list: tls-exporter (TLS 1.3), else tls-unique (TLS 1.2), never guesses."""
    binder = Binder(tls_unique=CB)
    mech = select_mechanism(
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], USER, tls=True, channel_binding=binder
    )
    assert mech.name == "SCRAM-SHA-256-PLUS"
    assert first_message(mech).startswith(b"p=tls-unique,,")
    binder = Binder(tls_server_end_point=CB)
    mech = select_mechanism(
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"], USER, tls=True, channel_binding=binder
    )
    assert mech.name == "SCRAM-SHA-256"
    assert "tls-server-end-point" not in binder.asked
    assert first_message(mech).startswith(b"n,,")


def test_server_types_we_cannot_serve_fall_back_to_n() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        USER,
        tls=True,
        channel_binding=Binder(tls_exporter=CB),
        server_cb_types=["tls-server-end-point", "x-unknown"],
    )
    assert mech.name == "SCRAM-SHA-256"
    assert first_message(mech).startswith(b"n,,")  # the server binds: "y" would look like an attack


def test_y_flag_when_server_offers_no_plus() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-256", "PLAIN"], USER, tls=True, channel_binding=Binder(tls_exporter=CB)
    )
    assert mech.name == "SCRAM-SHA-256"
    assert first_message(mech).startswith(b"y,,")


def test_y_flag_not_used_when_server_offers_plus_of_unknown_hash() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA3-512-PLUS", "SCRAM-SHA-256"],
        USER,
        tls=True,
        channel_binding=Binder(tls_exporter=CB),
    )
    assert mech.name == "SCRAM-SHA-256"
    assert first_message(mech).startswith(b"n,,")


def test_n_flag_when_plus_is_filtered_out_by_caller() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"],
        USER,
        tls=True,
        channel_binding=Binder(tls_exporter=CB),
        allowed={"SCRAM-SHA-256"},
    )
    assert mech.name == "SCRAM-SHA-256"
    assert first_message(mech).startswith(b"n,,")


def test_n_flag_without_binding_data() -> None:
    mech = select_mechanism(["SCRAM-SHA-256"], USER, tls=True, channel_binding=Binder())
    assert first_message(mech).startswith(b"n,,")


def test_only_plus_offered_without_binding_data_fails_clearly() -> None:
    with pytest.raises(AuthenticationError) as info:
        select_mechanism(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"], USER, tls=True)
    message = str(info.value)
    assert "SCRAM-SHA-256-PLUS" in message and "channel-binding" in message
    assert info.value.condition is None


def test_only_plus_offered_with_binding_but_without_tls_fails() -> None:
    binder = Binder(tls_exporter=CB)
    with pytest.raises(AuthenticationError, match="needs TLS"):
        select_mechanism(["SCRAM-SHA-256-PLUS"], USER, tls=False, channel_binding=binder)
    assert binder.asked == []


def test_plus_falls_back_to_non_plus_without_data() -> None:
    mech = select_mechanism(
        ["SCRAM-SHA-512-PLUS", "SCRAM-SHA-1"], USER, tls=True, channel_binding=Binder()
    )
    assert mech.name == "SCRAM-SHA-1"


def test_plain_refused_without_tls() -> None:
    with pytest.raises(AuthenticationError, match="PLAIN refused without TLS"):
        select_mechanism(["PLAIN"], USER, tls=False)


def test_plain_allowed_without_tls_on_request() -> None:
    mech = select_mechanism(["PLAIN"], USER, tls=False, allow_plain_without_tls=True)
    assert isinstance(mech, PlainMechanism)


def test_scram_works_without_tls() -> None:
    assert select_mechanism(["PLAIN", "SCRAM-SHA-1"], USER, tls=False).name == "SCRAM-SHA-1"


def test_external_only_when_allowed() -> None:
    certificate_user = Credentials()
    with pytest.raises(AuthenticationError, match="EXTERNAL must be named in allowed"):
        select_mechanism(["EXTERNAL"], certificate_user, tls=True)
    mech = select_mechanism(["EXTERNAL", "PLAIN"], certificate_user, tls=True, allowed={"EXTERNAL"})
    assert isinstance(mech, ExternalMechanism)


def test_external_not_used_with_a_password() -> None:
    mech = select_mechanism(["EXTERNAL", "PLAIN"], USER, tls=True, allowed={"EXTERNAL", "PLAIN"})
    assert mech.name == "PLAIN"
    with pytest.raises(AuthenticationError, match="password"):
        select_mechanism(["EXTERNAL"], USER, tls=True, allowed={"EXTERNAL"})


def test_external_before_anonymous() -> None:
    mech = select_mechanism(
        ["ANONYMOUS", "EXTERNAL"], Credentials(), tls=True, allowed={"EXTERNAL", "ANONYMOUS"}
    )
    assert mech.name == "EXTERNAL"


def test_anonymous_without_username() -> None:
    mech = select_mechanism(["SCRAM-SHA-1", "ANONYMOUS"], Credentials(), tls=True)
    assert isinstance(mech, AnonymousMechanism)


def test_anonymous_not_used_with_a_username_unless_allowed() -> None:
    with pytest.raises(AuthenticationError, match="ANONYMOUS"):
        select_mechanism(["ANONYMOUS"], USER, tls=True)
    mech = select_mechanism(["ANONYMOUS"], USER, tls=True, allowed={"ANONYMOUS"})
    assert mech.name == "ANONYMOUS"
    # Named in allowed, it is still the weakest choice.
    mech = select_mechanism(
        ["ANONYMOUS", "SCRAM-SHA-1"], USER, tls=True, allowed={"ANONYMOUS", "SCRAM-SHA-1"}
    )
    assert mech.name == "SCRAM-SHA-1"


def test_allowed_filters_without_ordering() -> None:
    offered = ["PLAIN", *ALL_SCRAM]
    mech = select_mechanism(offered, USER, tls=True, allowed=["SCRAM-SHA-1", "SCRAM-SHA-512"])
    assert mech.name == "SCRAM-SHA-512"
    mech = select_mechanism(offered, USER, tls=True, allowed=["PLAIN"])
    assert mech.name == "PLAIN"
    with pytest.raises(AuthenticationError, match="not allowed by the caller"):
        select_mechanism(["SCRAM-SHA-1"], USER, tls=True, allowed=["PLAIN"])


def test_no_common_mechanism_message_lists_everything() -> None:
    with pytest.raises(AuthenticationError) as info:
        select_mechanism(
            ["DIGEST-MD5", "PLAIN", "SCRAM-SHA-256-PLUS", "ANONYMOUS"], USER, tls=False
        )
    message = str(info.value)
    assert "DIGEST-MD5, PLAIN, SCRAM-SHA-256-PLUS, ANONYMOUS" in message
    assert "DIGEST-MD5: not supported" in message
    assert "PLAIN: PLAIN refused without TLS" in message
    assert "SCRAM-SHA-256-PLUS: channel binding needs TLS" in message
    assert "ANONYMOUS: not used when a username is given" in message


def test_scram_and_plain_need_a_password() -> None:
    with pytest.raises(AuthenticationError, match="needs a username and a password"):
        select_mechanism(["SCRAM-SHA-1", "PLAIN"], Credentials("user"), tls=True)


def test_nothing_offered() -> None:
    with pytest.raises(AuthenticationError, match="no SASL mechanisms"):
        select_mechanism([], USER, tls=True)


def test_selection_misuse() -> None:
    with pytest.raises(TypeError):
        select_mechanism("PLAIN", USER, tls=True)
    with pytest.raises(TypeError):
        select_mechanism(["PLAIN"], USER, tls=True, allowed="PLAIN")
    with pytest.raises(ValueError, match="DIGEST-MD5"):
        select_mechanism(["PLAIN"], USER, tls=True, allowed={"DIGEST-MD5"})
    with pytest.raises(TypeError):
        select_mechanism(["PLAIN"], ("user", "pw"), tls=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        select_mechanism(["SCRAM-SHA-1-PLUS"], USER, tls=True, channel_binding=lambda t: "str")  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError):
        select_mechanism(
            ["SCRAM-SHA-1-PLUS"],
            USER,
            tls=True,
            channel_binding=Binder(),
            server_cb_types="tls-exporter",
        )


def test_every_mechanism_name_is_selectable() -> None:
    for name in MECHANISMS:
        creds = Credentials() if name in ("EXTERNAL", "ANONYMOUS") else USER
        mech = select_mechanism(
            [name], creds, tls=True, channel_binding=Binder(tls_exporter=CB), allowed={name}
        )
        assert mech.name == name


# --- PLAIN, EXTERNAL, ANONYMOUS -------------------------------------------------------------------


def test_plain_messages() -> None:
    assert PlainMechanism(USER).initial_response() == b"\x00user\x00pencil"
    creds = Credentials("user", "p\u00e9ncil", authzid="admin")
    assert PlainMechanism(creds).initial_response() == "admin\x00user\x00p\u00e9ncil".encode()
    mech = PlainMechanism(USER)
    mech.initial_response()
    assert not mech.server_verified
    mech.success(None)
    assert mech.complete and not mech.server_verified


def test_external_and_anonymous_messages() -> None:
    assert ExternalMechanism(Credentials()).initial_response() == b""
    assert ExternalMechanism(Credentials(authzid="a@b.c")).initial_response() == b"a@b.c"
    assert AnonymousMechanism().initial_response() == b""
    assert AnonymousMechanism("trace@example").initial_response() == b"trace@example"
    with pytest.raises(ValueError):
        AnonymousMechanism("x" * 256)


@pytest.mark.parametrize(
    "mech",
    [
        PlainMechanism(USER),
        ExternalMechanism(Credentials()),
        AnonymousMechanism(),
    ],
    ids=lambda m: m.name,
)
def test_simple_mechanisms_refuse_challenges(mech: Mechanism) -> None:
    mech.initial_response()
    with pytest.raises(AuthenticationError, match="challenge"):
        mech.challenge(b"")
    with pytest.raises(AuthenticationError, match="already failed"):
        mech.success(None)


@pytest.mark.parametrize("cls", [PlainMechanism, ExternalMechanism, AnonymousMechanism])
def test_simple_mechanisms_refuse_success_data(cls: type) -> None:
    mech = cls(USER) if cls is not AnonymousMechanism else cls()
    mech.initial_response()
    with pytest.raises(AuthenticationError, match="additional data"):
        mech.success(b"surprise")


# --- hostile SCRAM servers ------------------------------------------------------------------------


HOSTILE_SERVER_FIRST = [
    (b"", "empty"),
    (b"\xff\xfe", "UTF-8"),
    (SERVER_FIRST.replace("r=", "r").encode(), "not an attribute"),
    (b"," + SERVER_FIRST.encode(), "not an attribute"),
    (SERVER_FIRST.encode() + b",", "not an attribute"),
    (SERVER_FIRST.replace("r=", "rr=").encode(), "not an attribute"),
    (SERVER_FIRST.replace("r=", "1=").encode(), "not an attribute"),
    (f"r={SNONCE},s={SALT}".encode(), "r=, s= and i="),
    (f"r={SNONCE},i=4096".encode(), "r=, s= and i="),
    (f"s={SALT},r={SNONCE},i=4096".encode(), "r=, s= and i="),
    (f"r={SNONCE},s={SALT},i=4096,s={SALT}".encode(), "repeated"),
    (f"r={SNONCE},r={SNONCE},s={SALT},i=4096".encode(), "repeated"),
    (f"m=ext,{SERVER_FIRST}".encode(), "m="),
    (f"r=someoneelse{SNONCE},s={SALT},i=4096".encode(), "nonce"),
    (f"r={CNONCE},s={SALT},i=4096".encode(), "nonce"),
    (f"r={CNONCE[:-1]},s={SALT},i=4096".encode(), "nonce"),
    (f"r={CNONCE}\x01x,s={SALT},i=4096".encode(), "nonce"),
    (f"r={CNONCE}\u00e9x,s={SALT},i=4096".encode(), "nonce"),
    (f"r={SNONCE},s=!!notbase64!!,i=4096".encode(), "base64"),
    (f"r={SNONCE},s=QUJD,i=4096".replace("QUJD", "QUJ").encode(), "base64"),
    (f"r={SNONCE},s=\u00e9\u00e9\u00e9\u00e9,i=4096".encode(), "base64"),
    (f"r={SNONCE},s=,i=4096".encode(), "empty salt"),
    (f"r={SNONCE},s={SALT},i=".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=four".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=-4096".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=+4096".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i= 4096".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=4096.0".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=\u0664\u0660\u0669\u0666".encode(), "not a number"),
    (f"r={SNONCE},s={SALT},i=4095".encode(), "fewer than the minimum"),
    (f"r={SNONCE},s={SALT},i=1".encode(), "fewer than the minimum"),
    (f"r={SNONCE},s={SALT},i=0".encode(), "fewer than the minimum"),
    (f"r={SNONCE},s={SALT},i={MAX_ITERATIONS + 1}".encode(), "more than the limit"),
    (f"r={SNONCE},s={SALT},i={'9' * 5000}".encode(), "more than the limit"),
]


@pytest.mark.parametrize(("server_first", "reason"), HOSTILE_SERVER_FIRST)
def test_hostile_server_first(server_first: bytes, reason: str) -> None:
    mech = fresh("SHA-256")
    mech.initial_response()
    with pytest.raises(AuthenticationError, match=reason) as info:
        mech.challenge(server_first)
    assert str(info.value).startswith("SCRAM-SHA-256: ")
    # The exchange is dead now: every later call says so.
    with pytest.raises(AuthenticationError, match="already failed"):
        mech.challenge(SERVER_FIRST.encode())
    with pytest.raises(AuthenticationError, match="already failed"):
        mech.success(None)


def test_hostile_server_first_str_with_large_int_does_not_crash() -> None:
    # Python limits int() conversion of huge digit strings; that must still be an auth error.
    mech = fresh("SHA-256")
    mech.initial_response()
    with pytest.raises(AuthenticationError):
        mech.challenge(f"r={SNONCE},s={SALT},i={'1' * 100_000}".encode())


HOSTILE_SERVER_FINAL = [
    (None, "without its signature"),
    (b"", "without its signature"),
    (b"\xc3\x28", "UTF-8"),
    (b"v", "not an attribute"),
    (b"garbage", "not an attribute"),
    (b"x=1", "expected v= or e="),
    (b"r=abc", "expected v= or e="),
    (b"v=AAAA,v=AAAA", "repeated"),
    (b"v=!!!!", "base64"),
    (b"v=AAA", "base64"),
    (b"v=", "signature is wrong"),
    (b"v=" + b64(b"\x00" * 32).encode(), "signature is wrong"),
    (b"v=" + b64(b"\x00" * 31).encode(), "signature is wrong"),
]


@pytest.mark.parametrize(("server_final", "reason"), HOSTILE_SERVER_FINAL)
def test_hostile_server_final_in_success(server_final: bytes | None, reason: str) -> None:
    mech = fresh("SHA-256")
    run_to_server_first(mech)
    with pytest.raises(AuthenticationError, match=reason):
        mech.success(server_final)
    assert not mech.server_verified and not mech.complete


@pytest.mark.parametrize(("server_final", "reason"), HOSTILE_SERVER_FINAL[1:])
def test_hostile_server_final_as_challenge(server_final: bytes, reason: str) -> None:
    mech = fresh("SHA-256")
    run_to_server_first(mech)
    with pytest.raises(AuthenticationError, match=reason.replace("without its signature", "empty")):
        mech.challenge(server_final)
    assert not mech.server_verified


@pytest.mark.parametrize("where", ["challenge", "success"])
def test_server_error_attribute(where: str) -> None:
    mech = fresh("SHA-256")
    run_to_server_first(mech)
    with pytest.raises(AuthenticationError, match="invalid-proof") as info:
        getattr(mech, where)(b"e=invalid-proof")
    assert info.value.condition is None
    assert info.value.text == "invalid-proof"
    assert isinstance(info.value, XMPPError)


def test_success_before_the_exchange_finished() -> None:
    mech = fresh("SHA-256")
    mech.initial_response()
    with pytest.raises(AuthenticationError, match="before the SCRAM exchange finished"):
        mech.success(None)
    mech = fresh("SHA-256")
    mech.initial_response()
    with pytest.raises(AuthenticationError, match="before the SCRAM exchange finished"):
        mech.success(RFC7677_SERVER_FINAL)


def test_challenge_after_completion() -> None:
    mech = fresh("SHA-256")
    run_to_server_first(mech)
    mech.success(server_final_for("sha256", "n,,")[1])
    with pytest.raises(AuthenticationError, match="after the exchange completed"):
        mech.challenge(b"r=x")
    with pytest.raises(AuthenticationError, match="after the exchange completed"):
        mech.success(None)


def test_challenge_after_server_final() -> None:
    mech = fresh("SHA-256")
    run_to_server_first(mech)
    assert mech.challenge(server_final_for("sha256", "n,,")[1]) == b""
    with pytest.raises(AuthenticationError, match="after its final message"):
        mech.challenge(b"v=AAAA")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_random_server_data_only_raises_authentication_error(data: bytes, as_success: bool) -> None:
    mech = fresh("SHA-1")
    mech.initial_response()
    try:
        if as_success:
            mech.success(data)
        else:
            mech.challenge(data)
    except AuthenticationError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120), st.booleans())
def test_random_server_final_only_raises_authentication_error(text: str, as_success: bool) -> None:
    mech = fresh("SHA-1")
    run_to_server_first(mech)
    try:
        (mech.success if as_success else mech.challenge)(text.encode())
    except AuthenticationError:
        pass


# --- caller misuse --------------------------------------------------------------------------------


def test_misuse_of_the_exchange() -> None:
    mech = fresh("SHA-256")
    with pytest.raises(ValueError, match="initial_response"):
        mech.challenge(SERVER_FIRST.encode())
    with pytest.raises(ValueError, match="initial_response"):
        mech.success(None)
    mech.initial_response()
    with pytest.raises(ValueError, match="only once"):
        mech.initial_response()
    with pytest.raises(TypeError):
        mech.challenge(SERVER_FIRST)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mech.success("v=")  # type: ignore[arg-type]
    # Misuse does not spoil the exchange.
    mech.challenge(bytearray(SERVER_FIRST.encode()))


def test_credentials() -> None:
    creds = Credentials("user", "secret")
    assert "secret" not in repr(creds) and "user" in repr(creds)
    with pytest.raises(TypeError):
        Credentials(b"user", "pw")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Credentials("user", "pw\x00")
    with pytest.raises(ValueError):
        PlainMechanism(Credentials("user"))


# --- payload helpers ------------------------------------------------------------------------------


def test_encode_payload() -> None:
    assert encode_payload(None) is None
    assert encode_payload(b"") == "="
    assert encode_payload(b"n,,n=user") == "biwsbj11c2Vy"


def test_decode_payload() -> None:
    assert decode_payload(None) is None
    assert decode_payload("") is None
    assert decode_payload("=") == b""
    assert decode_payload(" biwsbj11c2Vy\n") == b"n,,n=user"
    for bad in ["biws!", "biw", "==", "b i w s", "\u00e9"]:
        with pytest.raises(AuthenticationError, match="base64"):
            decode_payload(bad)
