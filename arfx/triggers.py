"""Triggers: tracked signals (expression scores, hand gestures) that make things happen.

- HeldTrigger: the live app maps hand gestures to its key actions, so it can be steered
  without the keyboard: a gesture must be held for `hold` seconds to fire (a passing hand
  shape does nothing), and fires again only after it has been let go.
- ShowWhen: effect.toml's `[[trigger]] when = "jawOpen > 0.5"` shows an effect on a face (or
  `gesture == thumbs_up` on a hand) only while the condition holds, with hysteresis.
- Trigger / TriggerActions: a [[trigger]] with actions (show, hide, swap, texture, play, burst)
  drives parts of a 3D effect instead; TriggerActions keeps each face's on/off state and
  turns it into what to draw this frame (the object pass in arfx.effects.object3d draws it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


# -- trigger actions ---------------------------------------------------------------------------

#: The keys of a [[trigger]] table that make it act on the effect's parts instead of showing
#: or hiding the whole effect. show/hide/swap/texture last while the condition holds; play and
#: burst start each time it turns on.
ACTION_KEYS = ("show", "hide", "swap", "texture", "play", "burst")
_BURST_FIELDS = {  # key: (default, low, high); the ranges catch unit mistakes (metres for cm)
    "count": (12, 1, 500),
    "speed": (25.0, 0.0, 1000.0),  # cm/s
    "life": (1.0, 0.05, 10.0),  # seconds
    "size": (2.0, 0.05, 100.0),  # cm, each sprite's side
    "gravity": (0.0, -2000.0, 2000.0),  # cm/s^2 down the picture; below 0 they rise
    "spread": (45.0, 0.0, 180.0),  # degrees around the anchor's forward axis (z)
}


@dataclass(frozen=True)
class Burst:
    """`burst = {sprite = "heart.png", count = 12, ...}`: sprites thrown from an anchor, flying
    straight (and falling with `gravity`), fading out over `life` seconds."""

    sprite: Any  # the image's name in the effect folder, a Path once resolved
    count: int = 12
    speed: float = 25.0
    life: float = 1.0
    size: float = 2.0
    gravity: float = 0.0
    spread: float = 45.0
    at: Any = None  # arfx.geometry.anchors.Anchor; None: the effect's own anchor


def _text(value, what: str, kind: str = "a part name (a node of the glTF file)") -> str:
    from arfx.effects.schema import ManifestError, describe

    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{what} must be {kind}, got {describe(value)}")
    return value.strip()


def _table(value, what: str, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    from arfx.effects.schema import ManifestError, check_keys, describe

    if not isinstance(value, dict):
        example = ", ".join(f'{k} = "..."' for k in required)
        raise ManifestError(f"{what} must be a table like {{{example}}}, got {describe(value)}")
    check_keys(value, keys, f"in {what}")
    for key in required:
        if key not in value:
            raise ManifestError(f"{what} needs {key} = ...")
    return value


def _burst(value) -> Burst:
    from arfx.effects.schema import ManifestError, describe, is_number
    from arfx.geometry.anchors import Anchor, AnchorError

    table = _table(value, "trigger burst", ("sprite", "at", *_BURST_FIELDS), ("sprite",))
    fields = {"sprite": _text(table["sprite"], "burst.sprite", "an image file in the effect folder")}
    for key, (default, low, high) in _BURST_FIELDS.items():
        number = table.get(key, default)
        if not is_number(number) or not low <= number <= high or (key == "count" and number != int(number)):
            kind = "a whole number" if key == "count" else "a number"
            raise ManifestError(f"burst.{key} must be {kind} from {low:g} to {high:g}, got {describe(number)}")
        fields[key] = int(number) if key == "count" else float(number)
    if "at" in table:
        try:
            fields["at"] = Anchor.parse(_text(table["at"], "burst.at", 'an anchor like "face.eyes"'))
        except AnchorError as error:
            raise ManifestError(f"burst.at: {error}") from error
    return Burst(**fields)


@dataclass(frozen=True)
class Trigger:
    """One [[trigger]] table: a condition and what it does.

    Without actions the effect is drawn only while the condition holds (`ShowWhen`). With them
    the effect is always drawn and the condition drives its parts (glTF nodes, by name, with
    everything under them): `show` a part only while it holds, `hide` one while it holds,
    `swap` one part for another, replace a part's base colour `texture` with an image from the
    effect folder, `play` an animation clip once from its start each time it turns on, or
    throw a `burst` of sprites each time it turns on.
    """

    condition: Condition
    show: str | None = None
    hide: str | None = None
    swap: tuple[str, str] | None = None  # (part hidden, part shown instead)
    texture: tuple[str, Any] | None = None  # (part, image name; a Path once resolved)
    play: str | None = None  # clip name
    burst: Burst | None = None

    @classmethod
    def parse(cls, table: dict) -> "Trigger":
        """A [[trigger]] table from effect.toml; ManifestError says what is wrong."""
        from arfx.effects.schema import ManifestError, check_keys

        check_keys(table, ("when", *ACTION_KEYS), "in [[trigger]]")
        if not isinstance(table.get("when"), str):
            raise ManifestError('[[trigger]] needs when = "jawOpen > 0.5" (or "gesture == thumbs_up")')
        try:
            condition = Condition.parse(table["when"])
        except ValueError as error:
            raise ManifestError(f"trigger when {error}") from error
        actions = {}
        for key in ("show", "hide"):
            if key in table:
                actions[key] = _text(table[key], f"trigger {key}")
        if "play" in table:
            actions["play"] = _text(table["play"], "trigger play", "the name of an animation clip in the file")
        if "swap" in table:
            swap = _table(table["swap"], "trigger swap", ("part", "with"), ("part", "with"))
            actions["swap"] = (_text(swap["part"], "swap.part"), _text(swap["with"], "swap.with"))
        if "texture" in table:
            texture = _table(table["texture"], "trigger texture", ("part", "image"), ("part", "image"))
            actions["texture"] = (_text(texture["part"], "texture.part"),
                                  _text(texture["image"], "texture.image", "an image file in the effect folder"))
        if "burst" in table:
            actions["burst"] = _burst(table["burst"])
        return cls(condition, **actions)

    @property
    def acts(self) -> bool:
        """Whether it has actions (else it shows the whole effect while its condition holds)."""
        return any(getattr(self, key) is not None for key in ACTION_KEYS)

    @property
    def parts(self) -> set[str]:
        """The glTF parts (node names) its actions name."""
        named = {self.show, self.hide, *(self.swap or ()), self.texture[0] if self.texture else None}
        return {name for name in named if name is not None}

    def resolved(self, resolve) -> "Trigger":
        """A copy whose image names are `resolve(name)` (the files inside the effect folder)."""
        from dataclasses import replace

        changes = {}
        if self.texture is not None:
            changes["texture"] = (self.texture[0], resolve(self.texture[1]))
        if self.burst is not None:
            changes["burst"] = replace(self.burst, sprite=resolve(self.burst.sprite))
        return replace(self, **changes)


@dataclass
class EntityActions:
    """What an effect's actions say for one tracked entity in one frame."""

    hidden: frozenset  # parts not drawn
    textures: dict  # part -> image (Path) drawn instead of its base colour
    clip: tuple | None  # (clip name, timestamp it started) of the clip started last, or None
    bursts: list  # (Burst, timestamp) started in this frame


@dataclass
class _EntityState:
    on: list
    clip: tuple | None = None


#: Entities (faces that left the picture) whose trigger state is kept before the oldest goes.
MAX_ENTITIES = 64


class TriggerActions:
    """The action triggers of one effect and their per-entity state (hysteresis, edges)."""

    def __init__(self, triggers) -> None:
        self.triggers = tuple(t for t in triggers if t.acts)
        # Parts that something shows only while its condition holds start hidden.
        self.hidden_at_rest = frozenset(name for t in self.triggers
                                        for name in (t.show, t.swap[1] if t.swap else None) if name)
        self._state: dict = {}

    @property
    def parts(self) -> set[str]:
        return {name for t in self.triggers for name in t.parts}

    @property
    def clips(self) -> set[str]:
        return {t.play for t in self.triggers if t.play is not None}

    def update(self, entity, timestamp: float) -> EntityActions:
        """Evaluate every condition on `entity` (call once per drawn frame and entity)."""
        key = getattr(entity, "id", id(entity))
        state = self._state.pop(key, None) or _EntityState([False] * len(self.triggers))
        self._state[key] = state  # most recently seen last
        while len(self._state) > MAX_ENTITIES:
            del self._state[next(iter(self._state))]
        shown, hidden, textures, bursts = set(), set(), {}, []
        for i, trigger in enumerate(self.triggers):
            on = trigger.condition.holds(entity, state.on[i])
            rising, state.on[i] = on and not state.on[i], on
            if not on:
                continue
            shown.update(name for name in (trigger.show, trigger.swap and trigger.swap[1]) if name)
            hidden.update(name for name in (trigger.hide, trigger.swap and trigger.swap[0]) if name)
            if trigger.texture:
                textures[trigger.texture[0]] = trigger.texture[1]
            if rising and trigger.play:
                state.clip = (trigger.play, float(timestamp))
            if rising and trigger.burst:
                bursts.append((trigger.burst, float(timestamp)))
        # A part a trigger hides stays hidden even while another one shows it.
        return EntityActions(frozenset((self.hidden_at_rest - shown) | hidden), textures, state.clip, bursts)


#: Scores that need the refined landmarks (the attention model's eyelids): without them the
#: eyelid points never meet (see arfx.geometry.expressions).
EYELID_SCORES = frozenset({"eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight"})


def reads_eyelids(effect) -> bool:
    """Whether any of the effect's triggers reads an eyelid score (so faces need refining)."""
    shown = getattr(getattr(effect, "trigger", None), "conditions", ())
    acted = [t.condition for t in getattr(getattr(effect, "actions", None), "triggers", ())]
    return any(c.signal in EYELID_SCORES for c in (*shown, *acted))
