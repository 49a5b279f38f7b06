"""Connection speed: real sockets, real connection code, fastxmpp beside slixmpp in one run.

Group ``roundtrip`` (the issue's target: at most 5 µs of client CPU per message sent and
received, about a tenth of slixmpp's, and a message rate limited by the server):

* a throwaway Prosody (:class:`fastxmpp.testing.ProsodyServer`, module-scoped) with two
  accounts; two connections in this process, STARTTLS on the c2s port with the server's
  throwaway CA (the certificate is verified);
* the receiver sends initial presence; the sender sends ``FASTXMPP_BENCH_ROUNDTRIP``
  (default 10,000) chat messages (the bodies of ``corpus.message_specs``) to the receiver's full
  JID, as fast as the API takes them; the receiver's message callback counts them and the sum
  of their body lengths, and the round ends when the last one has arrived (both are checked
  after every round);
* fastxmpp runs twice: the receiver's callback on its callback thread (the default), and as
  an inline handler (``on(..., inline=True)``: on the I/O thread, no hand-over between threads);
* per round: wall time (also the pytest-benchmark timing), ``time.process_time()`` of this
  process (both connections, every thread; Prosody's CPU is not in it), and Prosody's own CPU
  (utime + stime of ``/proc/<pid>/stat``, 10 ms resolution). ``extra_info`` holds the medians
  over the measured rounds: ``client_cpu_us_per_message`` (this process's CPU / N),
  ``server_cpu_us_per_message``, ``server_cpu_share`` (Prosody CPU / wall: 1.0 = a whole core,
  i.e. the server is the bottleneck) and ``client_cpu_share``; ``messages_per_second`` is
  N / the median round time.

Group ``receive`` (target: at least 500,000 stanzas per second through the connection, socket
to user callback):

* a local peer (``_pushpeer.py``: a :class:`fastxmpp.testing.ScriptedServer` in a separate
  process, so that this process's CPU time is the client's alone) logs the client in over plain
  text, then, for every ``go`` message of the client, pushes with one ``sendall`` the plain-mix
  corpus (``corpus.generate(N, mix="basic")``, ``FASTXMPP_BENCH_RECEIVE``, default 50,000
  stanzas: 40% chat messages with a body and a chat state, 40% presences with a status and caps,
  20% empty IQ results) and one end-marker message;
* the callbacks (message and presence) read ``from`` and, for messages, the body, as in
  ``test_parse.py``; fastxmpp runs them on its callback thread, then as inline handlers.
  IQ results nobody waits for are dropped by both libraries before any user callback, so
  the check after every round is: every message and presence arrived, with the
  exact ``from`` and body lengths, then the marker (which, coming last, proves that the IQ
  results before it were processed too);
* a round runs from sending ``go`` to the marker's callback; the rate counts every stanza
  pushed (the IQs and the marker included); ``cpu_us_per_stanza`` is this process's CPU over
  the round / stanzas.

slixmpp (if installed) runs the same rounds with ``ClientXMPP`` objects in one asyncio loop:
``enable_direct_tls = False`` (STARTTLS on the c2s port) and ``ca_certs`` = the server's CA for
Prosody; ``enable_starttls = False``, ``enable_plaintext = True`` and the
``feature_mechanisms`` plugin's ``unencrypted_plain = True`` for the plain-text peer; host and
port given to ``connect``; ``send_message`` to send, ``message``/``presence`` event handlers to
count. Log levels are WARNING (conftest.py).

Run::

    python -m pytest benchmarks/test_connection.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time

import _pushpeer
import pytest
from corpus import Tally, generate, message_specs

N_ROUNDTRIP = int(os.environ.get("FASTXMPP_BENCH_ROUNDTRIP", "10000"))
N_RECEIVE = int(os.environ.get("FASTXMPP_BENCH_RECEIVE", "50000"))
WAIT = 120.0  # seconds a round may take before it fails (never hangs)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def bench_rounds(default: int) -> int:  # as conftest.bench_rounds: FASTXMPP_BENCH_ROUNDS wins
    value = os.environ.get("FASTXMPP_BENCH_ROUNDS")
    return max(1, int(value)) if value else default


MESSAGE = "{jabber:client}message"
BODY = "{jabber:client}body"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Rounds:
    """Per-round measurements; the medians of the measured (non-warm-up) rounds go to
    ``extra_info``."""

    def __init__(self, count: int, warmup: int, server_pid: int | None = None) -> None:
        self.count = count
        self.warmup = warmup
        self.server_pid = server_pid
        self.samples: list[dict[str, float]] = []

    def start(self) -> tuple[float, float, float]:
        server = proc_cpu(self.server_pid) if self.server_pid else 0.0
        return time.perf_counter(), time.process_time(), server

    def stop(self, started: tuple[float, float, float]) -> None:
        wall = time.perf_counter() - started[0]
        cpu = time.process_time() - started[1]
        sample = {"wall": wall, "cpu": cpu}
        if self.server_pid:
            sample["server_cpu"] = proc_cpu(self.server_pid) - started[2]
        self.samples.append(sample)

    def record(self, benchmark, unit: str) -> None:
        measured = self.samples[self.warmup :] or self.samples
        if not measured:
            return

        def med(key: str) -> float:
            return statistics.median(s[key] for s in measured)

        info = benchmark.extra_info
        info[f"cpu_us_per_{unit}"] = round(med("cpu") / self.count * 1e6, 3)
        shares = [s["cpu"] / s["wall"] for s in measured]
        info["client_cpu_share"] = round(statistics.median(shares), 3)
        info[f"{unit}s_per_second_own_timer"] = round(self.count / med("wall"))
        if self.server_pid:
            info[f"server_cpu_us_per_{unit}"] = round(med("server_cpu") / self.count * 1e6, 3)
            info["server_cpu_share"] = round(
                statistics.median(s["server_cpu"] / s["wall"] for s in measured), 3
            )
        info["rounds_detail"] = [
            {k: round(v, 4) for k, v in s.items()} for s in self.samples[self.warmup :]
        ]
        stats = getattr(benchmark, "stats", None)  # None with --benchmark-disable
        if stats is not None and stats.stats.median:
            info[f"{unit}s_per_second"] = round(self.count / stats.stats.median)


def _slixmpp():
    return pytest.importorskip("slixmpp", reason="slixmpp not installed")


def _new_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


def _close_loop(loop: asyncio.AbstractEventLoop, clients) -> None:
    for client in clients:
        try:
            loop.run_until_complete(asyncio.wait_for(client.disconnect(), 5))
        except Exception:  # noqa: BLE001 - best effort at teardown
            client.abort()
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()


def _slixmpp_connect(loop, client, host: str, port: int) -> None:
    ready = loop.create_future()
    failed = loop.create_future()

    def on_ready(_event) -> None:
        if not ready.done():
            ready.set_result(None)

    def on_failure(event) -> None:
        if not failed.done():
            failed.set_result(event)

    client.add_event_handler("session_start", on_ready)
    for name in ("failed_all_auth", "connection_failed", "ssl_invalid_chain", "session_end"):
        client.add_event_handler(name, on_failure)
    client.connect(host, port)

    async def wait() -> None:
        done, _ = await asyncio.wait({ready, failed}, timeout=30, return_when="FIRST_COMPLETED")
        if ready not in done:
            why = failed.result() if done else "timeout"
            raise RuntimeError(f"slixmpp could not log in: {why}")

    loop.run_until_complete(wait())


# ================================================================================== roundtrip

SENDER, SENDER_PW = "sender", "sender-password"
RECEIVER, RECEIVER_PW = "receiver", "receiver-password"


@pytest.fixture(scope="module")
def prosody():
    from fastxmpp.testing import ProsodyServer, start_or_skip

    server = start_or_skip(ProsodyServer(accounts={SENDER: SENDER_PW, RECEIVER: RECEIVER_PW}))
    with server:
        yield server


@pytest.fixture(scope="module")
def roundtrip_bodies() -> list[str]:
    return [spec.body for spec in message_specs(N_ROUNDTRIP)]


class Inbox:
    """What the receiver saw in the current round (reset by the untimed setup)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.done = threading.Event()
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.body_chars = 0
        self.done.clear()

    def add(self, body: str) -> None:
        self.messages += 1
        self.body_chars += len(body)
        if self.messages == self.expected:
            self.done.set()

    def check(self, bodies: list[str]) -> None:
        assert self.messages == len(bodies), (self.messages, len(bodies))
        assert self.body_chars == sum(map(len, bodies))


def _run_rounds(benchmark, setup, target, rounds, meter: Rounds, unit: str) -> None:
    """Time ``target(setup())`` for each round with ``meter``; record its medians per ``unit``."""

    def timed(state):
        started = meter.start()
        target(state)
        meter.stop(started)

    benchmark.pedantic(
        timed,
        setup=lambda: ((setup(),), {}),
        rounds=bench_rounds(rounds),
        warmup_rounds=meter.warmup,
    )
    meter.record(benchmark, unit)


def _run_roundtrip(benchmark, label, server, setup, target, rounds):
    meter = Rounds(N_ROUNDTRIP, 1, server_pid=server.pid)
    benchmark.extra_info.update(label=label, messages_per_round=N_ROUNDTRIP)
    _run_rounds(benchmark, setup, target, rounds, meter, "message")


@pytest.mark.benchmark(group="roundtrip")
@pytest.mark.parametrize("inline", [False, True], ids=["callback-thread", "inline"])
def test_roundtrip_fastxmpp(benchmark, prosody, roundtrip_bodies, inline):
    """fastxmpp: two :class:`fastxmpp.Connection` objects (each with its I/O and callback
    thread), ``send_message`` from the main thread, a ``message`` callback on the receiver:
    on its callback thread (the default), or on its I/O thread (``inline=True``)."""
    from fastxmpp.connection import Connection

    options = dict(
        host=prosody.host,
        port=prosody.c2s_port,
        tls="starttls",
        ca_file=prosody.ca_file,
        keepalive=None,
        ping_interval=None,
    )
    inbox = Inbox(len(roundtrip_bodies))
    sender = Connection(prosody.jid(SENDER), SENDER_PW, resource="bench", **options)
    receiver = Connection(prosody.jid(RECEIVER), RECEIVER_PW, resource="bench", **options)
    sender_jid: list[str] = []

    def on_message(msg) -> None:
        if msg.get("from") == sender_jid[0]:
            inbox.add(msg.findtext(BODY) or "")

    receiver.on("message", on_message, inline=inline)
    with sender, receiver:
        sender_jid.append(str(sender.jid))
        receiver.send_presence()
        to = receiver.jid
        send_message = sender.send_message

        def setup():
            inbox.reset()
            return inbox

        def target(state):
            for body in roundtrip_bodies:
                send_message(to, body)
            assert state.done.wait(WAIT), f"only {state.messages} messages arrived"

        label = "fastxmpp Connection ×2 (STARTTLS, one process)"
        if inline:
            label += ", inline handler"
        _run_roundtrip(benchmark, label, prosody, setup, target, rounds=5)
        inbox.check(roundtrip_bodies)


@pytest.mark.benchmark(group="roundtrip")
def test_roundtrip_slixmpp(benchmark, prosody, roundtrip_bodies):
    """slixmpp: two ``ClientXMPP`` in one asyncio loop, ``send_message`` (queued, written by
    slixmpp's send task), a ``message`` event handler on the receiver."""
    _slixmpp()
    from pathlib import Path

    from slixmpp import ClientXMPP

    loop = _new_loop()
    inbox = Inbox(len(roundtrip_bodies))
    clients = []
    try:
        for user, password in ((SENDER, SENDER_PW), (RECEIVER, RECEIVER_PW)):
            client = ClientXMPP(f"{prosody.jid(user)}/bench", password, loop=loop)
            client.enable_direct_tls = False  # STARTTLS on the c2s port
            client.ca_certs = Path(prosody.ca_file)  # verify the certificate against this CA
            clients.append(client)
        sender, receiver = clients
        sender_jid: list[str] = []
        finished: list[asyncio.Future] = []

        def on_message(msg) -> None:
            if msg["from"].full == sender_jid[0]:
                inbox.add(msg["body"])
                if inbox.done.is_set() and not finished[0].done():
                    finished[0].set_result(None)

        receiver.add_event_handler("message", on_message)
        for client in clients:
            _slixmpp_connect(loop, client, prosody.host, prosody.c2s_port)
        sender_jid.append(sender.boundjid.full)
        receiver.send_presence()
        to = receiver.boundjid.full
        send_message = sender.send_message

        def setup():
            inbox.reset()
            finished[:] = [loop.create_future()]
            return inbox

        def target(state):
            for body in roundtrip_bodies:
                send_message(mto=to, mbody=body, mtype="chat")
            try:
                loop.run_until_complete(asyncio.wait_for(finished[0], WAIT))
            except asyncio.TimeoutError:
                raise AssertionError(f"only {state.messages} messages arrived") from None

        label = "slixmpp ClientXMPP ×2 (STARTTLS, one asyncio loop)"
        _run_roundtrip(benchmark, label, prosody, setup, target, rounds=3)
        inbox.check(roundtrip_bodies)
    finally:
        _close_loop(loop, clients)


# ================================================================================== receive


class ReceiveCorpus:
    """The pushed stanzas and what the message/presence callbacks must see of them."""

    def __init__(self, n: int) -> None:
        from fastxmpp.xml import StreamParserPy

        c = generate(n, mix="basic")
        self.n_stanzas = n + 1  # + the end marker
        self.expected = Tally()
        for item in StreamParserPy().feed(c.data):
            if getattr(item, "tag", None) in (MESSAGE, "{jabber:client}presence"):
                self.expected.stanzas += 1
                self.expected.from_chars += len(item.get("from"))
                body = item.findtext(BODY)
                if body:
                    self.expected.messages += 1
                    self.expected.body_chars += len(body)
        assert self.expected.messages == c.n_messages
        assert self.expected.stanzas == c.n_messages + c.n_presences

    def check(self, tally: Tally) -> None:
        e = self.expected
        assert not tally.errors, tally.errors[:3]
        assert tally.other == 1, tally  # the end marker, once
        assert (tally.stanzas, tally.messages) == (e.stanzas, e.messages), (tally, e)
        assert (tally.from_chars, tally.body_chars) == (e.from_chars, e.body_chars), (tally, e)


@pytest.fixture(scope="module")
def push_peer():
    proc, port = _pushpeer.start_peer(N_RECEIVE)
    try:
        yield port
    finally:
        _pushpeer.stop_peer(proc)


@pytest.fixture(scope="module")
def receive_corpus() -> ReceiveCorpus:
    return ReceiveCorpus(N_RECEIVE)


def _run_receive(benchmark, label, setup, target, rounds) -> None:
    meter = Rounds(N_RECEIVE + 1, 1)
    benchmark.extra_info.update(label=label, stanzas_per_round=N_RECEIVE + 1)
    _run_rounds(benchmark, setup, target, rounds, meter, "stanza")


@pytest.mark.benchmark(group="receive")
@pytest.mark.parametrize("inline", [False, True], ids=["callback-thread", "inline"])
def test_receive_fastxmpp(benchmark, push_peer, receive_corpus, inline):
    """fastxmpp: a :class:`fastxmpp.Connection` (``tls="disabled"``) with a message and a
    presence callback; the peer's bytes go socket -> I/O thread (recv, parse, route) ->
    callback thread (dispatch) -> callback, or with ``inline=True`` socket -> I/O thread
    (recv, parse, route, callback)."""
    from fastxmpp.connection import Connection

    end = _pushpeer.SENTINEL_FROM
    state = {"tally": Tally(), "done": threading.Event()}

    def on_message(el) -> None:
        tally = state["tally"]
        frm = el.get("from")
        if frm == end:
            tally.other += 1
            state["done"].set()
            return
        tally.stanzas += 1
        tally.from_chars += len(frm)
        body = el.findtext(BODY)
        if body:
            tally.messages += 1
            tally.body_chars += len(body)

    def on_presence(el) -> None:
        tally = state["tally"]
        tally.stanzas += 1
        tally.from_chars += len(el.get("from"))

    conn = Connection(
        "juliet@capulet.lit",
        "secret",
        host="127.0.0.1",
        port=push_peer,
        tls="disabled",
        resource="balcony",
        keepalive=None,
        ping_interval=None,
    )
    conn.on("message", on_message, inline=inline)
    conn.on("presence", on_presence, inline=inline)
    with conn:

        def setup():
            state["tally"] = Tally()
            state["done"].clear()
            return state

        def target(st):
            conn.send_message(_pushpeer.DOMAIN, "go")
            assert st["done"].wait(WAIT), f"the end marker did not arrive: {st['tally']}"
            return st["tally"]

        label = "fastxmpp Connection (plain TCP)" + (", inline handlers" if inline else "")
        _run_receive(benchmark, label, setup, target, rounds=10)
        receive_corpus.check(state["tally"])


@pytest.mark.benchmark(group="receive")
def test_receive_slixmpp(benchmark, push_peer, receive_corpus):
    """slixmpp: a ``ClientXMPP`` over plain TCP with ``message`` and ``presence`` event handlers
    (its own handlers run too: the presence one updates the roster state)."""
    _slixmpp()
    from slixmpp import ClientXMPP

    end = _pushpeer.SENTINEL_FROM
    loop = _new_loop()
    client = ClientXMPP("juliet@capulet.lit/balcony", "secret", loop=loop)
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    state = {"tally": Tally(), "done": None}

    def on_message(msg) -> None:
        tally = state["tally"]
        frm = msg["from"].full
        if frm == end:
            tally.other += 1
            state["done"].set_result(None)
            return
        tally.stanzas += 1
        tally.from_chars += len(frm)
        body = msg["body"]
        if body:
            tally.messages += 1
            tally.body_chars += len(body)

    def on_presence(pres) -> None:
        tally = state["tally"]
        tally.stanzas += 1
        tally.from_chars += len(pres["from"].full)

    client.add_event_handler("message", on_message)
    client.add_event_handler("presence", on_presence)
    try:
        client.register_plugin("feature_mechanisms")
        client.plugin["feature_mechanisms"].unencrypted_plain = True  # PLAIN without TLS
        _slixmpp_connect(loop, client, "127.0.0.1", push_peer)

        def setup():
            state["tally"] = Tally()
            state["done"] = loop.create_future()
            return state

        def target(st):
            client.send_message(mto=_pushpeer.DOMAIN, mbody="go")
            try:
                loop.run_until_complete(asyncio.wait_for(st["done"], WAIT))
            except asyncio.TimeoutError:
                raise AssertionError(f"the end marker did not arrive: {st['tally']}") from None
            return st["tally"]

        _run_receive(benchmark, "slixmpp ClientXMPP (plain TCP)", setup, target, rounds=3)
        receive_corpus.check(state["tally"])
    finally:
        _close_loop(loop, [client])
