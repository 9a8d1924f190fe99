"""The threading toolkit: bounded hand-offs between threads, the two kinds of stage built on
them, and the one place SIGINT/SIGTERM become an orderly stop.

- `BoundedQueue` (first in, first out, `depth` items) and `LatestSlot` (one item: a new one
  replaces an unread one, or with `keep_all` waits for the reader) share one interface:
  `put`, `end(reason)`, `take(timeout)` (None once ended and empty), `ended`, `end_reason`.
- `ProducerStage` iterates an iterable on a daemon thread into such a buffer (decoding ahead,
  tracking ahead, a camera's capture thread); the consumer takes items in order and gets the
  producer's exception, raised on its own thread, after the items made before it; `close()`
  cancels it (a producer blocked on a full buffer is released) and joins the thread.
- `WorkerStage` is the other direction: items put on the calling thread are handled in order
  on a daemon thread (an encoder); the first exception is kept (later items are drained
  unhandled, so producers never block on a dead worker) for the caller to report, and
  `close()` runs `finish` on the worker thread and waits for it however often Ctrl-C comes.
- `PlaybackClock` says when each timestamped item is due at playback speed (paced file feeds,
  streams fed by an offline render).
- `StopSignals` turns SIGINT and SIGTERM into an orderly stop: by default a KeyboardInterrupt
  (so `kill PID` unwinds like Ctrl-C and every `finally` finishes its output), or a handler
  of the caller's (the live app asks its loop to stop).

Items must not be None: `take` returns None for "no more".
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time
from typing import Any, Callable, Deque, Generic, Iterable, Iterator, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The signals that ask a command to stop (Ctrl-C, `kill PID`).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def steadily(step: Callable[[], T], interrupts: list[BaseException]) -> T:
    """Run `step` to the end: Ctrl-C or SystemExit is noted in `interrupts` and the step retried.

    For waits that must not be cut short (finishing a file); the caller re-raises
    `interrupts[0]` once done. `step` must be safe to repeat.
    """
    while True:
        try:
            return step()
        except (KeyboardInterrupt, SystemExit) as stop:
            interrupts.append(stop)


# -- buffers --------------------------------------------------------------------------------

class Buffer(Protocol[T]):
    """What a stage hands items through."""

    def put(self, item: T) -> bool: ...
    def end(self, reason: str | None = None) -> None: ...
    def take(self, timeout: float | None = None) -> T | None: ...
    @property
    def ended(self) -> bool: ...
    @property
    def end_reason(self) -> str | None: ...


class _Ending:
    """The end-of-stream state both buffers share (under their condition's lock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ended = False
        self._end_reason: str | None = None

    def end(self, reason: str | None = None) -> None:
        """No more items (the first reason given is kept); wakes every waiting thread."""
        with self._cond:
            if not self._ended:
                self._ended = True
                self._end_reason = reason
            self._cond.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def end_reason(self) -> str | None:
        return self._end_reason

    def _wait_for(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Under the lock: wait until ready() or ended; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not ready():
            if self._ended:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._cond.wait(remaining)
        return True


class BoundedQueue(_Ending, Generic[T]):
    """First in, first out, at most `depth` items; `put` waits while it is full."""

    def __init__(self, depth: int = 4) -> None:
        super().__init__()
        self.depth = max(1, int(depth))
        self._items: Deque[T] = collections.deque()

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Queue `item`; False (not queued) once ended, or when still full after `timeout`."""
        with self._cond:
            if not self._wait_for(lambda: len(self._items) < self.depth, timeout) or self._ended:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def take(self, timeout: float | None = None) -> T | None:
        """The oldest item; None once ended and empty (or on timeout)."""
        with self._cond:
            if not self._wait_for(lambda: bool(self._items), timeout) or not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def __len__(self) -> int:
        return len(self._items)


class LatestSlot(_Ending, Generic[T]):
    """A one-item buffer: a new item replaces an unread one; readers see items in order.

    With `keep_all` (settable at any time) the writer waits for the reader instead, so no
    item is dropped: a file is then paced by its consumer. `dropped` counts replaced items,
    `delivered` every item put.
    """

    def __init__(self, keep_all: bool = False) -> None:
        super().__init__()
        self._item: T | None = None
        self._keep_all = keep_all
        self.dropped = 0
        self.delivered = 0

    @property
    def keep_all(self) -> bool:
        return self._keep_all

    @keep_all.setter
    def keep_all(self, value: bool) -> None:
        with self._cond:
            self._keep_all = bool(value)
            self._cond.notify_all()

    def put(self, item: T) -> bool:
        """Hold `item` (replacing an unread one, or with keep_all after waiting for the reader);
        False (not held, not counted) once ended: a writer released by the end drops nothing."""
        with self._cond:
            while self._keep_all and self._item is not None and not self._ended:
                self._cond.wait()
            if self._ended:
                return False
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self.delivered += 1
            self._cond.notify_all()
            return True

    def counts(self) -> tuple[int, int, bool]:
        """(delivered, dropped, whether an unread item waits), read together."""
        with self._cond:
            return self.delivered, self.dropped, self._item is not None

    def take(self, timeout: float | None = None) -> T | None:
        """The newest unread item; None once the stream has ended (or on timeout)."""
        with self._cond:
            if not self._wait_for(lambda: self._item is not None, timeout) or self._item is None:
                return None
            item, self._item = self._item, None
            self._cond.notify_all()  # a keep_all writer may go on
            return item


class PlaybackClock:
    """When timestamped items are due at playback speed: `start(timestamp)` counts that
    timestamp as shown now, and a later one is due its difference later (`delay`, negative
    when it is late). `fall_behind` moves the clock on after a late item, so the ones after it
    keep their spacing instead of following in a catch-up burst."""

    def __init__(self) -> None:
        self._zero: float | None = None  # the monotonic time at which timestamp 0 is due

    @property
    def started(self) -> bool:
        return self._zero is not None

    def start(self, timestamp: float = 0.0) -> None:
        self._zero = time.monotonic() - timestamp

    def delay(self, timestamp: float) -> float:
        """Seconds until `timestamp` is due (negative: that late); the clock must be started."""
        return self._zero + timestamp - time.monotonic()

    def fall_behind(self, late: float) -> None:
        """Play on from an item `late` seconds late as if it were on time."""
        self._zero += late


# -- stages ---------------------------------------------------------------------------------

class ProducerStage(Generic[T]):
    """Iterates `items` on a daemon thread into `buffer` (a BoundedQueue of `depth` by default).

    Iterate the stage (or call `take`) on the consumer's thread: items come in order, then the
    producer's exception, if it failed, is raised there. `timing(seconds)` is called with the
    time each item took to produce. `stop()`/`close()` cancel: the producer stops at its next
    item or wait (`stopping` is set; a pacing producer may wait on it), the buffer ends with
    "stopped". The buffer ends with "end of input", "stopped" or the error's text.
    """

    def __init__(self, items: Iterable[T], buffer: Buffer[T] | None = None, depth: int = 4,
                 name: str = "arfx-stage", timing: Callable[[float], None] | None = None,
                 start: bool = True) -> None:
        self._items = items
        self.buffer: Buffer[T] = buffer if buffer is not None else BoundedQueue(depth)
        self._timing = timing
        self.error: BaseException | None = None
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        if start:
            self.start()

    def start(self) -> "ProducerStage[T]":
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def _run(self) -> None:
        reason = "end of input"
        try:
            iterator = iter(self._items)
            while not self.stopping.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                if self._timing is not None:
                    self._timing(time.perf_counter() - t0)
                if self.stopping.is_set() or not self.buffer.put(item):
                    break
        except BaseException as error:  # handed to the consumer's thread
            self.error = error
            reason = str(error)
        finally:
            if self.error is None and self.stopping.is_set():
                reason = "stopped"
            self.buffer.end(reason)

    def take(self, timeout: float | None = None) -> T | None:
        """The next item; None at the end (or on timeout: see `ended`). Does not raise."""
        return self.buffer.take(timeout)

    def raise_error(self) -> None:
        """Re-raise the producer's exception on this thread, if it failed."""
        if self.error is not None:
            raise self.error

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self.buffer.take()
            if item is None:
                self.raise_error()
                return
            yield item

    @property
    def ended(self) -> bool:
        return self.buffer.ended

    @property
    def end_reason(self) -> str | None:
        return self.buffer.end_reason

    def stop(self, join_timeout: float = 2.0) -> None:
        """Cancel the producer and wait up to `join_timeout` for its thread."""
        self.stopping.set()
        self.buffer.end("stopped")  # releases a producer waiting for room
        if self._started:
            self._thread.join(join_timeout)

    def close(self) -> None:
        self.stop(join_timeout=5.0)


class WorkerStage(Generic[T]):
    """Items `put` on the calling thread are handled in order by `handle` on a daemon thread.

    At most `depth` items wait. The first exception (from `handle`, `finish` or `fail()`) is
    kept in `error`; later items are taken and dropped, so a producer never blocks on a dead
    worker. `close()` lets the worker handle what is queued, run `finish` on its own thread
    (signals interrupt only the main thread, so a file's ending is never cut short there) and
    waits for it; Ctrl-C/SystemExit arriving meanwhile are collected, not obeyed.
    """

    def __init__(self, handle: Callable[[T], None], finish: Callable[[], None] | None = None,
                 depth: int = 8, name: str = "arfx-worker") -> None:
        self._handle = handle
        self._finish = finish
        self._queue: BoundedQueue[T] = BoundedQueue(depth)
        self.error: BaseException | None = None
        # Waited on instead of Thread.join(): a join cut short by Ctrl-C can report a thread
        # that is still running as ended (CPython 3.11), which would rename a half-written file.
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def fail(self, error: BaseException) -> None:
        """Record a failure (the first one is kept): later items are dropped, `finish` sees it."""
        if self.error is None:
            self.error = error

    def put(self, item: T, poll: float = 0.5) -> bool:
        """Queue `item`, waiting while the worker is `depth` items behind; False (not queued)
        once the worker has failed or been closed."""
        while self.error is None:
            if self._queue.put(item, timeout=poll):
                return True
            if self._queue.ended:
                return False
        return False

    @property
    def idle(self) -> bool:
        """Nothing waits to be handled."""
        return len(self._queue) == 0

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.take()
                if item is None:
                    break
                if self.error is not None:
                    continue  # drain so producers never block on a dead worker
                try:
                    self._handle(item)
                except BaseException as error:  # reported to the producer
                    log.debug("%s failed", self._thread.name, exc_info=True)
                    self.fail(error)
            if self._finish is not None:
                try:
                    self._finish()
                except BaseException as error:
                    log.debug("%s: finishing failed", self._thread.name, exc_info=True)
                    self.fail(error)
        finally:
            self._finished.set()

    def close(self, interrupts: list[BaseException]) -> None:
        """Let the worker finish and wait for it; interrupts meanwhile go into `interrupts`."""
        steadily(self._queue.end, interrupts)
        steadily(self._finished.wait, interrupts)


# -- signals --------------------------------------------------------------------------------

def interrupt(signum: int, frame: Any) -> None:
    """The default stop: a KeyboardInterrupt, as Ctrl-C raises, for SIGTERM too."""
    raise KeyboardInterrupt


class StopSignals:
    """While installed, SIGINT and SIGTERM call `handler(signum, frame)` (default `interrupt`).

    Installs only on the main thread (nowhere else can Python handle signals; elsewhere it is
    a no-op). `handler` may be replaced while installed (the live app ignores further presses
    once it is finishing a recording). `restore()` puts back the handlers found by `install()`,
    so uses nest: the CLI's around the whole command, the live app's around its session.
    """

    def __init__(self, handler: Callable[[int, Any], None] | None = None) -> None:
        self.handler = handler or interrupt
        self._previous: dict[int, Any] = {}

    def _dispatch(self, signum: int, frame: Any) -> None:
        self.handler(signum, frame)

    def install(self) -> "StopSignals":
        if not self._previous and threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._dispatch)
        return self

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def restore(self) -> None:
        previous, self._previous = self._previous, {}
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)

    def __enter__(self) -> "StopSignals":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()
