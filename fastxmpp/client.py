"""Many accounts in one process: :class:`Client`, in the line of Net::XMPP2's ``Client``.

Every account's connection runs on the client's single I/O thread (one selector for all
sockets) and delivers to the client's single callback thread, so a process holding hundreds of
accounts still has two threads of its own. Logging in is the only blocking part; it runs in a
small pool of worker threads, so many accounts log in at once and a slow server delays only its
own accounts.

Handlers registered with :meth:`Client.on` get the :class:`Account` first, then what the
connection's handler would get. An account that fails (a wrong password, a dead server, a
dropped link) is reported through events and its :class:`Account`; the others go on. With
``reconnect=True`` a dropped account logs in again after a growing, jittered delay.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fastxmpp._loop import CallbackRunner, IOLoop, Timer
from fastxmpp.connection import Connection
from fastxmpp.errors import AuthenticationError, Disconnected, XMPPError
from fastxmpp.im import IMConnection
from fastxmpp.jid import JID

__all__ = ["Account", "Client", "CLIENT_EVENTS"]

log = logging.getLogger("fastxmpp.client")

#: Events of the client itself (each handler gets the Account first):
#: ``account_added(account)`` once an account is logged in (again after each reconnect),
#: ``login_failed(account, error)`` when a login attempt fails,
#: ``account_removed(account)`` after :meth:`Client.remove_account`,
#: ``reconnecting(account, delay)`` when a dropped account will log in again in ``delay`` s.
CLIENT_EVENTS = frozenset({"account_added", "login_failed", "account_removed", "reconnecting"})
_STANZA_KINDS = ("message", "presence", "iq")
_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 60.0


class Account:
    """One account of a :class:`Client`: its JID, its current connection, its state.

    The account object stays the same across reconnects; :attr:`connection` is the connection
    of the current session (None before the first login succeeded).
    """

    def __init__(self, client: Client, jid: JID, password: str | None, options: dict) -> None:
        self.client = client
        #: The account's JID as given (bare, or with the resource to ask for).
        self.jid = jid
        self._password = password
        self._options = options
        #: The connection of the current (or last) session.
        self.connection: Any = None
        #: Why the last login or session failed (None after a successful login or clean close).
        self.error: BaseException | None = None
        self.removed = False
        self._attempt = 0
        self._timer: Timer | None = None

    @property
    def connected(self) -> bool:
        """True while the account's session is up."""
        return self.connection is not None and self.connection.connected

    def send(self, stanza: Any) -> None:
        """Send a stanza on the account's current connection."""
        self._live().send(stanza)

    def send_message(self, to: str | JID, body: str | None, **options: Any) -> str:
        """Send a message from this account (see ``Connection.send_message``); returns its id."""
        return self._live().send_message(to, body, **options)

    def request(self, stanza: Any, timeout: float | None = None) -> Any:
        """Send an IQ get/set from this account and wait for the answer."""
        return self._live().request(stanza, timeout)

    def _live(self) -> Any:
        conn = self.connection
        if conn is None or not conn.connected:
            raise Disconnected(f"account {self.jid} is not connected", self.error)
        return conn

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("removed" if self.removed else "offline")
        return f"<Account {self.jid} {state}>"


class Client:
    """Many accounts on one I/O thread and one callback thread.

    ``options`` are the defaults for every account's connection (host, port, ca_file, tls,
    timeout, roster, priority, ...; see :class:`fastxmpp.IMConnection`); :meth:`add_account`
    can override them. ``connection_class`` may be :class:`fastxmpp.Connection` for accounts
    that need none of the IM machinery (relays).
    ``login_workers`` is how many logins run at once. ``reconnect=True`` logs a dropped
    account in again (not after a wrong password or :meth:`remove_account`). ``max_backlog``
    bounds the callbacks waiting to run, for all accounts together: past it, reading pauses.
    """

    def __init__(
        self,
        *,
        reconnect: bool = False,
        login_workers: int = 8,
        max_backlog: int = 10_000,
        connection_class: type[Connection] | None = None,
        **options: Any,
    ) -> None:
        if login_workers < 1:
            raise ValueError("login_workers must be at least 1")
        self.reconnect = reconnect
        self._options = options
        self._connection_class: type[Connection] = connection_class or IMConnection
        self._loop = IOLoop(name="fastxmpp-io client")
        self._runner = CallbackRunner(name="fastxmpp-callbacks client", high_water=max_backlog)
        self._logins = ThreadPoolExecutor(login_workers, thread_name_prefix="fastxmpp-login")
        self._accounts: dict[JID, Account] = {}
        self._handlers: list[tuple[str, Callable[..., Any], str | None, str | None, bool]] = []
        self._lock = threading.RLock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        online = sum(1 for a in self._accounts.values() if a.connected)
        return f"<Client {online}/{len(self._accounts)} accounts connected>"

    def close(self, timeout: float = 5.0) -> None:
        """Log every account out, then stop the client's threads. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            accounts = list(self._accounts.values())
        self._logins.shutdown(wait=True, cancel_futures=True)
        for account in accounts:
            self._drop(account, timeout)
        self._loop.stop()
        self._runner.stop()

    # -- accounts ----------------------------------------------------------------------------

    def add_account(self, jid: str | JID, password: str | None, **options: Any) -> Account:
        """Log an account in and return it; raises what the login raised.

        The account stays in the client even when the login fails (see :attr:`Account.error`)
        only with ``reconnect=True``; otherwise a failed account is removed again.
        """
        future = self.add_account_async(jid, password, **options)
        account = future.account  # type: ignore[attr-defined]
        future.result()
        return account

    def add_account_async(self, jid: str | JID, password: str | None, **options: Any) -> Future:
        """Start logging an account in; the Future gets the :class:`Account` or the error.

        The Future also carries the account as ``future.account`` at once.
        """
        account_jid = jid if isinstance(jid, JID) else JID(jid)
        with self._lock:
            if self._closed:
                raise XMPPError("the client is closed")
            if account_jid in self._accounts:
                raise ValueError(f"account {account_jid} is already in this client")
            account = Account(self, account_jid, password, {**self._options, **options})
            self._accounts[account_jid] = account
        future = self._logins.submit(self._login, account)
        future.account = account  # type: ignore[attr-defined]
        return future

    def add_accounts(
        self,
        accounts: Mapping[str | JID, str | None] | Iterable[tuple[str | JID, str | None]],
        *,
        progress: Callable[[int, int], Any] | None = None,
        **options: Any,
    ) -> dict[JID, Account]:
        """Log many accounts in at once (``login_workers`` at a time); never raises for one.

        Returns every account by JID; check :attr:`Account.connected` and
        :attr:`Account.error`. ``progress(done, total)`` is called as logins finish (from
        worker threads).
        """
        pairs = list(accounts.items() if isinstance(accounts, Mapping) else accounts)
        futures = [self.add_account_async(jid, pw, **options) for jid, pw in pairs]
        done = 0
        done_lock = threading.Lock()

        def finished(_: Future) -> None:
            nonlocal done
            with done_lock:
                done += 1
                count = done
            if progress is not None:
                progress(count, len(futures))

        for future in futures:
            future.add_done_callback(finished)
        result: dict[JID, Account] = {}
        for future in futures:
            account = future.account  # type: ignore[attr-defined]
            future.exception()  # wait; the error is on the account
            result[account.jid] = account
        return result

    def remove_account(self, jid: str | JID, timeout: float = 5.0) -> Account:
        """Log the account out (politely) and forget it."""
        account_jid = jid if isinstance(jid, JID) else JID(jid)
        with self._lock:
            account = self._accounts.pop(account_jid, None)
        if account is None:
            raise KeyError(f"no account {account_jid} in this client")
        self._drop(account, timeout)
        self._emit("account_removed", account)
        return account

    def __getitem__(self, jid: str | JID) -> Account:
        return self._accounts[jid if isinstance(jid, JID) else JID(jid)]

    def __contains__(self, jid: object) -> bool:
        try:
            return (jid if isinstance(jid, JID) else JID(str(jid))) in self._accounts
        except ValueError:
            return False

    def __iter__(self) -> Iterator[Account]:
        return iter(list(self._accounts.values()))

    def __len__(self) -> int:
        return len(self._accounts)

    @property
    def accounts(self) -> list[Account]:
        """All accounts, connected or not."""
        return list(self._accounts.values())

    # -- handlers ----------------------------------------------------------------------------

    def on(
        self,
        name: str,
        callback: Callable[..., Any] | None = None,
        *,
        type: str | None = None,
        namespace: str | None = None,
        inline: bool = False,
    ) -> Any:
        """Register ``callback(account, ...)`` for every account, now and later; a decorator too.

        ``name`` is a stanza kind or an event of the accounts' connections (as for
        ``Connection.on``: the same ``type``/``namespace`` filters, and ``inline`` for message
        and presence handlers: they then run on the I/O thread that all accounts share, so
        they hold up every account while they run), or one of :data:`CLIENT_EVENTS`. The
        callback gets the :class:`Account` first.
        """
        if callback is None:
            return lambda fn: self.on(name, fn, type=type, namespace=namespace, inline=inline)
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        if inline and name not in ("message", "presence"):
            raise ValueError("inline=True is for message and presence handlers only")
        if name in CLIENT_EVENTS:
            if type is not None or namespace is not None:
                raise ValueError(f"event {name!r} takes no type or namespace")
        elif name not in _STANZA_KINDS and name not in self._connection_events():
            known = sorted({*_STANZA_KINDS, *self._connection_events(), *CLIENT_EVENTS})
            raise ValueError(f"unknown stanza kind or event {name!r}: use one of {known}")
        entry = (name, callback, type, namespace, inline)
        with self._lock:
            self._handlers.append(entry)
            accounts = list(self._accounts.values())
        if name not in CLIENT_EVENTS:
            for account in accounts:
                if account.connection is not None:
                    self._register(account, account.connection, entry)
        return callback

    def _connection_events(self) -> frozenset[str]:
        return frozenset(self._connection_class.EVENTS)

    def _register(self, account: Account, conn: Any, entry: tuple) -> None:
        name, callback, type_, namespace, inline = entry

        def bound(*args: Any) -> Any:
            return callback(account, *args)

        bound.__qualname__ = getattr(callback, "__qualname__", repr(callback))
        if name in _STANZA_KINDS:
            conn.on(name, bound, type=type_, namespace=namespace, inline=inline)
        else:
            conn.on(name, bound)

    def _emit(self, event: str, *args: Any) -> None:
        for name, callback, *_ in list(self._handlers):
            if name == event:
                try:
                    self._runner.submit(callback, *args)
                except RuntimeError:  # the runner stopped: the client is closing
                    return

    # -- logging in and out (worker threads) ----------------------------------------------

    def _login(self, account: Account) -> Account:
        if account.removed or self._closed:
            raise XMPPError(f"account {account.jid} was removed before it logged in")
        conn = self._connection_class(
            account.jid,
            account._password,
            _loop=self._loop,
            _runner=self._runner,
            **account._options,
        )
        with self._lock:
            handlers = list(self._handlers)
        for entry in handlers:
            if entry[0] not in CLIENT_EVENTS:
                self._register(account, conn, entry)
        conn.on("disconnected", lambda reason: self._on_disconnected(account, conn, reason))
        account.connection = conn
        try:
            conn.connect()
        except BaseException as exc:
            account.error = exc
            log.info("%s: login failed: %s", account.jid, exc)
            self._emit("login_failed", account, exc)
            if self._may_retry(account, exc):
                self._schedule_reconnect(account)
            elif not self.reconnect:
                with self._lock:
                    if self._accounts.get(account.jid) is account:
                        del self._accounts[account.jid]
            raise
        if account.removed or self._closed:  # removed while logging in
            conn.close()
            raise XMPPError(f"account {account.jid} was removed while it logged in")
        account.error = None
        account._attempt = 0
        self._emit("account_added", account)
        return account

    def _on_disconnected(self, account: Account, conn: Any, reason: BaseException | None) -> None:
        """Callback thread: an account's session ended; reconnect it when that is wanted."""
        if account.connection is not conn or account.removed or self._closed:
            return
        if reason is None:  # a clean close by us
            return
        account.error = reason
        if self._may_retry(account, reason):
            self._schedule_reconnect(account)

    def _may_retry(self, account: Account, error: BaseException) -> bool:
        return (
            self.reconnect
            and not account.removed
            and not self._closed
            and not isinstance(error, AuthenticationError)  # retrying a wrong password locks
        )

    def _schedule_reconnect(self, account: Account) -> None:
        account._attempt += 1
        delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (account._attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # spread accounts that dropped together
        self._emit("reconnecting", account, delay)

        def arm() -> None:
            account._timer = self._loop.call_later(delay, fire)

        def fire() -> None:
            if account.removed or self._closed:
                return
            try:
                self._logins.submit(self._relogin, account)
            except RuntimeError:  # the pool shut down: the client is closing
                pass

        self._loop.call_soon(arm)

    def _relogin(self, account: Account) -> None:
        try:
            self._login(account)
        except BaseException:  # reported through login_failed; the next try is scheduled
            pass

    def _drop(self, account: Account, timeout: float) -> None:
        account.removed = True
        if account._timer is not None:
            account._timer.cancel()
        conn = account.connection
        if conn is not None:
            conn.close(timeout)
