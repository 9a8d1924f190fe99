"""Honest pacing of live feeds: latest frame wins for cameras, every frame kept in no-drop mode."""

from __future__ import annotations

import threading
import time

from arfx.sources import Frame, LatestFrameSlot, ThreadedFeed

import numpy as np


def frames(count: int, fps: float = 1000.0):
    pixel = np.zeros((2, 2, 3), np.uint8)
    for i in range(count):
        yield Frame(pixel, i, i / fps)


def test_latest_frame_wins_and_counts_what_it_drops() -> None:
    slot = LatestFrameSlot()
    for frame in frames(3):
        slot.put(frame)
    assert slot.take(0).index == 2
    assert slot.dropped == 2 and slot.delivered == 3


def test_keep_all_feed_gives_a_slow_consumer_every_frame_in_order() -> None:
    """A consumer far slower than the file's clock still gets all frames, none dropped."""
    feed = ThreadedFeed(frames(30, fps=1000.0), paced=True, keep_all=True).start()
    seen = []
    while True:
        frame = feed.slot.take(timeout=5)
        if frame is None:
            break
        seen.append(frame.index)
        time.sleep(0.002)  # slower than the 1 ms between frames
    assert seen == list(range(30))
    assert feed.slot.dropped == 0 and feed.end_reason == "end of input"


def test_keep_all_can_be_switched_on_mid_stream_and_stop_wakes_the_writer() -> None:
    feed = ThreadedFeed(frames(10**9), paced=False, keep_all=False).start()  # endless
    feed.slot.keep_all = True  # e.g. a recording starts
    first = feed.slot.take(timeout=5)
    dropped = feed.slot.dropped
    # From now on the writer waits for us: the next frames follow one by one.
    following = [feed.slot.take(timeout=5).index for _ in range(5)]
    assert following == list(range(following[0], following[0] + 5)) and first.index < following[0]
    assert feed.slot.dropped == dropped
    done = threading.Event()
    threading.Thread(target=lambda: (feed.stop(), done.set()), daemon=True).start()
    assert done.wait(5), "stop() hung on a writer waiting for the consumer"
