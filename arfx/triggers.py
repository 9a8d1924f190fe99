"""Triggers: a gesture (or any named per-frame signal) held long enough fires an action once.

The live app maps hand gestures to its key actions with these, so it can be steered without
the keyboard: a gesture must be held for `hold` seconds to fire (a passing hand shape does
nothing), and fires again only after it has been let go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Gesture -> live-app action, when gestures are on (`arfx EFFECT --gestures`).
GESTURE_ACTIONS = {"thumbs_up": "next", "victory": "screenshot", "open_palm": "record"}


@dataclass
class HeldTrigger:
    """Fires `signal`'s action once it has been seen continuously for `hold` seconds."""

    actions: dict[str, str] = field(default_factory=lambda: dict(GESTURE_ACTIONS))
    hold: float = 0.6
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
            if signal not in self._fired and timestamp - start >= self.hold:
                self._fired.add(signal)
                fired.append(self.actions[signal])
        return fired
