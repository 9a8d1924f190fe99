"""Hand gestures from the 21 hand landmarks, by rules on joint angles and distances.

Gestures: open_palm, fist, pointing, victory, thumbs_up, pinch (or none). Each finger gets an
extension score from how much it bends (the angles between its successive bones, summed over
its three joints: a straight finger bends little, a curled one 180 degrees or more); the thumb
gets one from its own bends and how far its tip stands from the palm. Each gesture's score
is the weakest of the memberships that define it (a fuzzy AND):

- open_palm: all five fingers extended.
- fist: the four fingers curled, the thumb not sticking out (or not pointing up).
- pointing: index extended, middle, ring and pinky curled.
- victory: index and middle extended and apart, ring and pinky curled.
- thumbs_up: thumb extended and pointing up the image, the four fingers curled.
- pinch: thumb tip and index tip together (under a quarter of the palm's length apart), the
  index not curled into the palm or another finger open (a fist around a microphone also
  brings the two tips together).

The rules use only angles and distance ratios, so they work on image landmarks (pixels) and
on world landmarks (metres) alike; world landmarks are better (true 3D, no perspective).
Thumbs-up needs the image's up direction: both landmark kinds have y pointing down the image.
The best-scoring gesture wins when its score reaches `min_score` (default 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GESTURES = ("open_palm", "fist", "pointing", "victory", "thumbs_up", "pinch")
NONE = "none"

_FINGERS = {  # MCP, PIP, DIP, TIP
    "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12), "ring": (13, 14, 15, 16), "pinky": (17, 18, 19, 20),
}
_THUMB = (1, 2, 3, 4)  # CMC, MCP, IP, TIP
_WRIST = 0

# Summed bend (degrees) of a finger's three joints: at most EXTENDED is straight, at least
# CURLED is curled; in between the memberships ramp linearly.
EXTENDED_BEND, CURLED_BEND = 60.0, 150.0
THUMB_EXTENDED_BEND, THUMB_CURLED_BEND = 50.0, 110.0
PINCH_CLOSE, PINCH_OPEN = 0.25, 0.45   # thumb-index tip distance over the palm length
VICTORY_SPREAD = (8.0, 20.0)           # degrees between index and middle: apart from ... fully


@dataclass(frozen=True)
class Gesture:
    """The recognised gesture (or "none"), its score 0..1 and every gesture's score."""

    name: str
    score: float
    scores: dict[str, float]


def _ramp(value: float, low: float, high: float) -> float:
    """0 at low, 1 at high, linear in between (low > high reverses it)."""
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two vectors, degrees."""
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu < 1e-9 or nv < 1e-9:
        return 0.0
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))


def _bend(points: np.ndarray, chain: tuple[int, ...]) -> float:
    """Summed angle between successive bones along a chain of joints (degrees)."""
    bones = [points[b] - points[a] for a, b in zip(chain, chain[1:])]
    return sum(_angle(u, v) for u, v in zip(bones, bones[1:]))


def finger_states(landmarks: np.ndarray) -> dict[str, float]:
    """Extension 0 (curled) .. 1 (straight) of thumb, index, middle, ring and pinky."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :3]
    palm = max(float(np.linalg.norm(p[9] - p[_WRIST])), 1e-9)
    states = {}
    for name, (mcp, pip, dip, tip) in _FINGERS.items():
        bend = _bend(p, (_WRIST, mcp, pip, dip, tip))
        straight = _ramp(bend, CURLED_BEND, EXTENDED_BEND)
        # A finger folded at the MCP joint alone can look straight: its tip must also lie
        # further from the wrist than its middle joint.
        reach = _ramp(np.linalg.norm(p[tip] - p[_WRIST]) / max(np.linalg.norm(p[pip] - p[_WRIST]), 1e-9),
                      1.0, 1.25)
        states[name] = min(straight, reach)
    thumb_bend = _bend(p, (_WRIST,) + _THUMB)
    # An extended thumb's tip stands away from the index finger's base.
    away = _ramp(np.linalg.norm(p[4] - p[5]) / palm, 0.35, 0.7)
    states["thumb"] = min(_ramp(thumb_bend, THUMB_CURLED_BEND, THUMB_EXTENDED_BEND), away)
    return states


def gesture_scores(landmarks: np.ndarray) -> dict[str, float]:
    """Every gesture's score 0..1 for one hand's 21 landmarks ([21, 3]; pixels or metres)."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :3]
    if p.shape != (21, 3) or not np.isfinite(p).all():
        raise ValueError(f"expected 21 finite landmarks of (x, y, z), got shape {np.shape(landmarks)}")
    palm = float(np.linalg.norm(p[9] - p[_WRIST]))
    if palm <= 1e-9 * max(float(np.abs(p).max()), 1.0):
        return dict.fromkeys(GESTURES, 0.0)  # degenerate (all points together): no gesture
    s = finger_states(p)
    curled = {name: 1.0 - value for name, value in s.items()}
    four = ("index", "middle", "ring", "pinky")
    thumb_dir = p[4] - p[2]
    up = _ramp(-thumb_dir[1] / max(np.linalg.norm(thumb_dir[:2]), 1e-9), 0.5, 0.85)  # cos to image up
    spread = _angle(p[8] - p[5], p[12] - p[9])
    pinch_distance = np.linalg.norm(p[4] - p[8]) / palm
    index_bend = _bend(p, (_WRIST, 5, 6, 7, 8))
    return {
        "open_palm": min(s[f] for f in ("thumb",) + four),
        "fist": min(min(curled[f] for f in four), max(curled["thumb"], 1.0 - up)),
        "pointing": min(s["index"], curled["middle"], curled["ring"], curled["pinky"]),
        "victory": min(s["index"], s["middle"], curled["ring"], curled["pinky"],
                       _ramp(spread, *VICTORY_SPREAD)),
        "thumbs_up": min(s["thumb"], up, min(curled[f] for f in four)),
        # A fist around something (a microphone) also brings thumb and index tips together:
        # a pinch leaves the index not fully curled, or some other finger open.
        "pinch": min(_ramp(pinch_distance, PINCH_OPEN, PINCH_CLOSE),
                     max(_ramp(index_bend, 200.0, 150.0) if s["index"] > 0.05 else 0.0,
                         _ramp(max(s[f] for f in four), 0.1, 0.4))),
    }


def classify(landmarks: np.ndarray, min_score: float = 0.5) -> Gesture:
    """The best gesture for one hand's landmarks, or "none" when none reaches min_score."""
    scores = gesture_scores(landmarks)
    name = max(GESTURES, key=lambda g: scores[g])
    if scores[name] < min_score:
        return Gesture(NONE, scores[name], scores)
    return Gesture(name, scores[name], scores)


def classify_hand(hand, min_score: float = 0.5) -> Gesture:
    """The gesture of an arfx.tracking.hands.Hand, from its world landmarks (true 3D)."""
    return classify(hand.world_landmarks, min_score)
