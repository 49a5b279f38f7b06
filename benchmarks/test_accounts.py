"""Many accounts in one process: log N accounts in to a throwaway Prosody with one Client.

``FASTXMPP_BENCH_ACCOUNTS`` (default 500) sets N. One round logs every account in (16 at a
time), checks that each one is connected and can send, and logs them all out. Recorded in
``extra_info``: accounts, seconds, client CPU seconds, the threads of the process and its
peak RSS. Run alone::

    FASTXMPP_BENCH_ACCOUNTS=1000 python -m pytest benchmarks/test_accounts.py --benchmark-only
"""

from __future__ import annotations

import os
import queue
import resource
import secrets
import threading
import time

import pytest

from fastxmpp import JID
from fastxmpp.client import Client
from fastxmpp.testing import ProsodyServer

N_ACCOUNTS = int(os.environ.get("FASTXMPP_BENCH_ACCOUNTS", "500"))


@pytest.fixture(scope="module")
def server():
    with ProsodyServer() as prosody:
        yield prosody


@pytest.mark.benchmark(group="accounts")
def test_many_accounts_fastxmpp(benchmark, server):
    password = secrets.token_urlsafe(8)
    jids = [
        server.add_account(f"acct{i}-{secrets.token_hex(3)}", password) for i in range(N_ACCOUNTS)
    ]
    options = {"host": server.host, "port": server.c2s_port, "ca_file": server.ca_file}
    seen: dict = {}

    def login_all() -> None:
        received: queue.Queue = queue.Queue()
        with Client(login_workers=16, timeout=120, **options) as client:
            client.on("message", lambda account, msg: received.put(account.jid))
            cpu, start = time.process_time(), time.perf_counter()
            accounts = client.add_accounts({jid: password for jid in jids})
            seen["seconds"] = time.perf_counter() - start
            seen["cpu"] = time.process_time() - cpu
            failed = [a for a in accounts.values() if not a.connected]
            assert not failed, failed[0].error
            seen["threads"] = threading.active_count()
            ring = list(accounts.values())
            for sender, target in zip(ring, ring[1:] + ring[:1], strict=True):
                sender.send_message(target.connection.jid, "ring")
            got = {received.get(timeout=60) for _ in ring}
            assert got == {JID(j) for j in jids}

    benchmark.pedantic(login_all, rounds=1, iterations=1)
    benchmark.extra_info.update(
        accounts=N_ACCOUNTS,
        login_seconds=round(seen["seconds"], 2),
        login_cpu_seconds=round(seen["cpu"], 2),
        threads=seen["threads"],
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    print(
        f"\n{N_ACCOUNTS} accounts logged in in {seen['seconds']:.2f} s"
        f" ({seen['cpu']:.2f} s client CPU), {seen['threads']} threads in the process"
    )
