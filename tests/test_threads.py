"""The threading toolkit: bounded hand-offs, producer and worker stages, stop signals."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from arfx.threads import BoundedQueue, LatestSlot, ProducerStage, StopSignals, WorkerStage


def test_producer_stage_delivers_in_order_then_raises_the_producers_error_on_the_consumer() -> None:
    def items():
        yield from range(5)
        raise ValueError("bad frame 5")

    stage = ProducerStage(items(), depth=2)
    got = []
    with pytest.raises(ValueError, match="bad frame 5"):
        for item in stage:
            got.append(item)
    stage.close()
    assert got == [0, 1, 2, 3, 4]
    assert stage.end_reason == "bad frame 5"


def test_producer_stage_times_each_item_and_ends_with_end_of_input() -> None:
    seconds: list[float] = []
    stage = ProducerStage(iter([1, 2, 3]), timing=seconds.append)
    assert list(stage) == [1, 2, 3]
    assert len(seconds) == 3 and all(s >= 0 for s in seconds)
    assert stage.end_reason == "end of input"


def test_closing_a_producer_stage_releases_a_producer_blocked_on_a_full_queue() -> None:
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    stage = ProducerStage(endless(), depth=1, name="test-endless")
    assert stage.take(timeout=5) == 0
    deadline = time.monotonic() + 5
    while len(produced) < 3 and time.monotonic() < deadline:  # one queued, one waiting for room
        time.sleep(0.01)
    stage.close()
    assert not any(t.name == "test-endless" for t in threading.enumerate())
    assert stage.end_reason == "stopped"
    assert len(produced) <= 4  # bounded: it did not run ahead


def test_bounded_queue_put_times_out_when_full_and_refuses_once_ended() -> None:
    q: BoundedQueue[int] = BoundedQueue(1)
    assert q.put(1, timeout=0.01)
    assert not q.put(2, timeout=0.01)
    q.end("done")
    assert not q.put(3)
    assert q.take() == 1 and q.take() is None and q.end_reason == "done"


def test_latest_slot_keep_all_waits_for_the_reader_instead_of_replacing() -> None:
    slot: LatestSlot[int] = LatestSlot(keep_all=True)
    slot.put(1)
    writer = threading.Thread(target=slot.put, args=(2,))
    writer.start()
    writer.join(0.1)
    assert writer.is_alive()  # waiting: the unread 1 is not replaced
    assert slot.take(timeout=1) == 1
    writer.join(5)
    assert slot.take(timeout=1) == 2 and slot.dropped == 0 and slot.delivered == 2


def test_latest_slot_writer_released_by_the_end_drops_nothing() -> None:
    """A no-drop session stopped early (--frames N, quit) reports no dropped frames: the
    frame its reader never came back for is not one the app failed to keep up with."""
    slot: LatestSlot[int] = LatestSlot(keep_all=True)
    assert slot.put(1)
    results: list[bool] = []
    writer = threading.Thread(target=lambda: results.append(slot.put(2)))
    writer.start()
    time.sleep(0.05)
    assert writer.is_alive()  # waiting for the reader
    slot.end("stopped")
    writer.join(2)
    assert results == [False]
    assert slot.counts() == (1, 0, True)  # 1 delivered, none dropped, the unread one still there
    assert slot.take() == 1 and slot.take(0.01) is None


def test_worker_stage_keeps_the_first_error_drains_the_rest_and_still_finishes() -> None:
    handled: list[int] = []
    finished = []

    def handle(item: int) -> None:
        if item == 2:
            raise OSError("disk full")
        handled.append(item)

    worker = WorkerStage(handle, finish=lambda: finished.append(worker.error), depth=1)
    for i in range(6):  # never blocks on the dead worker
        if not worker.put(i, poll=0.05):
            break
    interrupts: list[BaseException] = []
    worker.close(interrupts)
    assert handled == [0, 1]
    assert isinstance(worker.error, OSError) and finished == [worker.error]
    assert not worker.put(9) and interrupts == []


def test_stop_signals_turn_sigterm_into_keyboard_interrupt_and_nest() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[int] = []
    with StopSignals():
        with StopSignals(lambda signum, frame: seen.append(signum)) as inner:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert seen == [signal.SIGTERM]
            inner.handler = lambda signum, frame: seen.append(-signum)  # swapped while installed
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert seen == [signal.SIGTERM, -signal.SIGINT]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) == before


def test_stop_signals_do_nothing_off_the_main_thread() -> None:
    result = []
    thread = threading.Thread(target=lambda: result.append(StopSignals().install().installed))
    thread.start()
    thread.join(5)
    assert result == [False]
