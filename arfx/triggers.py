"""Triggers: tracked signals (expression scores, hand gestures) that make things happen.

- HeldTrigger: the live app maps hand gestures to its key actions, so it can be steered
  without the keyboard: a gesture must be held for `hold` seconds to fire (a passing hand
  shape does nothing), and fires again only after it has been let go.
- ShowWhen: effect.toml's `[[trigger]] when = "jawOpen > 0.5"` shows an effect on a face (or
  `gesture == thumbs_up` on a hand) only while the condition holds, with hysteresis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Gesture -> live-app action, when gestures are on (`arfx EFFECT --gestures`).
GESTURE_ACTIONS = {"victory": "next", "open_palm": "record", "thumbs_up": "screenshot"}
#: Gestures that must be held longer than the default before they act (a recording toggle
#: should not start by accident).
GESTURE_HOLDS = {"open_palm": 2.0}
APP_ACTIONS = ("next", "previous", "record", "screenshot", "mirror", "debug", "quit")


def parse_gesture_map(text: str) -> tuple[dict[str, str], dict[str, float]]:
    """`--gestures victory=next,open_palm=record:2`: gesture -> action (and hold seconds);
    ValueError says what is wrong."""
    from arfx.tracking.gestures import GESTURES

    actions, holds = {}, {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        gesture, _, action = item.partition("=")
        action, _, hold = action.partition(":")
        gesture, action = gesture.strip(), action.strip()
        if gesture not in GESTURES:
            raise ValueError(f"unknown gesture '{gesture}' in '{item}'; one of {', '.join(GESTURES)}")
        if action not in APP_ACTIONS:
            raise ValueError(f"unknown action '{action}' in '{item}'; one of {', '.join(APP_ACTIONS)}")
        actions[gesture] = action
        if hold:
            try:
                holds[gesture] = float(hold)
            except ValueError:
                raise ValueError(f"'{hold}' in '{item}' is not a number of seconds") from None
    if not actions:
        raise ValueError("no gesture given; write e.g. victory=next,open_palm=record:2")
    return actions, holds


@dataclass
class HeldTrigger:
    """Fires `signal`'s action once it has been seen continuously for its hold time (`holds`,
    else `hold` seconds)."""

    actions: dict[str, str] = field(default_factory=lambda: dict(GESTURE_ACTIONS))
    hold: float = 0.6
    holds: dict[str, float] = field(default_factory=lambda: dict(GESTURE_HOLDS))
    _since: dict[str, float] = field(default_factory=dict)
    _fired: set[str] = field(default_factory=set)

    def update(self, signals: set[str], timestamp: float) -> list[str]:
        """The actions that fire at `timestamp`, given the signals seen in this frame."""
        fired = []
        for signal in list(self._since):
            if signal not in signals:  # let go: may fire again next time
                del self._since[signal]
                self._fired.discard(signal)
        for signal in signals:
            if signal not in self.actions:
                continue
            start = self._since.setdefault(signal, timestamp)
            if signal not in self._fired and timestamp - start >= self.holds.get(signal, self.hold):
                self._fired.add(signal)
                fired.append(self.actions[signal])
        return fired


# -- effect triggers ---------------------------------------------------------------------------

#: Hysteresis of a score condition: once on, it stays on until the score is back this far.
HYSTERESIS = 0.1
_OPERATORS = (">", "<", "==")


@dataclass(frozen=True)
class Condition:
    """`signal op value`: an expression score against a number ("jawOpen > 0.5") or a hand's
    gesture by name ("gesture == thumbs_up")."""

    signal: str
    op: str
    value: float | str

    @classmethod
    def parse(cls, text: str) -> "Condition":
        """A condition from effect.toml's `when`; ValueError says what is wrong."""
        from arfx.geometry.expressions import EXPRESSION_NAMES

        for op in _OPERATORS:
            left, found, right = str(text).partition(op)
            if found:
                break
        else:
            raise ValueError(f"'{text}' must read like \"jawOpen > 0.5\" or \"gesture == thumbs_up\"")
        signal, right = left.strip(), right.strip()
        if signal == "gesture":
            if op != "==" or not right.isidentifier():
                raise ValueError(f"'{text}': write gesture == <name>, e.g. gesture == thumbs_up")
            return cls(signal, op, right)
        if signal not in EXPRESSION_NAMES:
            import difflib

            close = difflib.get_close_matches(signal, EXPRESSION_NAMES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"'{text}': unknown score '{signal}'{hint}; one of {', '.join(EXPRESSION_NAMES)}")
        try:
            value = float(right)
        except ValueError:
            raise ValueError(f"'{text}': {right!r} is not a number") from None
        if op == "==" or not 0.0 <= value <= 1.0:
            raise ValueError(f"'{text}': compare a score with > or < and a number from 0 to 1")
        return cls(signal, op, value)

    def holds(self, entity, was_on: bool) -> bool:
        """Whether the condition holds for one tracked entity (with hysteresis when `was_on`)."""
        if self.signal == "gesture":
            return getattr(entity, "gesture", None) == self.value
        score = getattr(entity, "expressions", {}).get(self.signal)
        if score is None:
            return False
        margin = HYSTERESIS if was_on else 0.0
        return score > self.value - margin if self.op == ">" else score < self.value + margin


@dataclass
class ShowWhen:
    """An effect drawn on an entity only while any of its conditions holds there (per entity
    id, with hysteresis, so a score hovering at the threshold does not flicker)."""

    conditions: tuple[Condition, ...]
    _on: dict = field(default_factory=dict)

    def visible(self, entity) -> bool:
        key = getattr(entity, "id", id(entity))
        on = any(c.holds(entity, self._on.get(key, False)) for c in self.conditions)
        self._on[key] = on
        return on
