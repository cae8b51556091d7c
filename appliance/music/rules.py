"""The valence rules: a pure choice of the next track from a mood reading.

Music sits on a valence (sad to happy) and energy (calm to energetic) plane, both 0..1. Each
strategy turns a decided reading into a target point on it:

- ``match``: mood-congruent, the emotion's own point (``rules.moods``).
- ``uplift``: the prototype's rule: sad or afraid go straight to high-valence, upbeat music
  (the ``happy`` target); any other emotion straight to its own ``rules.targets`` point.
- ``iso``: the iso principle of music therapy: start near the current track and move toward
  the emotion's ``rules.targets`` point by at most ``rules.step`` per track, in valence and in
  energy (the shipped targets for anger and fear have low energy, so those calm down). With
  nothing playing yet it starts at the emotion's own point, meeting the mood first.

A reading that decides nothing ("no face", "unsure", or none at all) keeps the direction the
last two tracks took. The chosen track is the least recently played one within ``rules.step``
of the target (the band), else the nearest; tracks in the last ``rules.no_repeat`` are left out
while others remain. Tracks without tags count as neutral (0.5) and the reason says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from appliance.config import RulesConfig
from appliance.errors import LibraryError
from appliance.mood.reading import MoodReading
from appliance.music.library import Track

#: Valence and energy assumed for a track that has no tags.
NEUTRAL = 0.5
# Valence leads the choice; energy counts half as much when measuring distance.
_ENERGY_WEIGHT = 0.5
#: Picks among the band's tracks, given best first in the rules' order: (track, how picked).
Prefer = Callable[[Sequence[Track]], tuple[Track, str]]


@dataclass(frozen=True)
class Choice:
    """The next track, the point the rules aimed at, and why, in one line."""

    track: Track
    reason: str
    target_valence: float
    target_energy: float


def choose_next(
    reading: MoodReading | None,
    current: Track | None,
    library: Sequence[Track],
    history: Sequence[Track],
    rules: RulesConfig,
    prefer: Prefer | None = None,
) -> Choice:
    """Choose the track to play after ``current``.

    Args:
        reading: the latest mood check, or ``None`` when there was none.
        current: the track playing now, or ``None``.
        library: the playable tracks.
        history: the tracks played so far, newest last (may include ``current``).
        rules: the ``[rules]`` config.
        prefer: picks among the tracks within the band instead of the least recently played
            one (e.g. ``appliance.music.learning.preference``); never sees tracks outside it.

    Raises:
        LibraryError: ``library`` is empty.
    """
    if not library:
        raise LibraryError("no playable tracks to choose from; scan the music folder")
    valence, energy, why = _target(reading, current, history, rules)
    pool, repeat_note = _candidates(library, current, history, rules.no_repeat)
    # iso also keeps the track itself within one step of the current track's valence.
    stepping = rules.strategy == "iso" and reading is not None and reading.decided
    origin = _point(current)[0] if stepping and current is not None else None
    track, band_note = _pick(pool, (valence, energy), rules.step, history, origin, prefer)
    tv, te, untagged = _point(track)
    tagged = f"untagged, taken as neutral {_at(tv, te)}" if untagged else _at(tv, te)
    reason = f"{why}; chose {_name(track)} ({tagged}), {band_note}{repeat_note}"
    return Choice(track, reason, valence, energy)


def _target(
    reading: MoodReading | None, current: Track | None, history: Sequence[Track], rules: RulesConfig
) -> tuple[float, float, str]:
    """The target point and the first half of the reason."""
    if reading is None or not reading.decided:
        return _keep_direction(reading, current, history, rules)
    emotion = reading.emotion
    said = f"{rules.strategy}: {emotion} {reading.confidence:.0%}"
    if rules.strategy == "match":
        mood = rules.moods[emotion]
        return mood.valence, mood.energy, f"{said}: mood-congruent {_at(mood.valence, mood.energy)}"
    if rules.strategy == "uplift":
        lifted = emotion in ("sad", "fear")
        goal = rules.targets["happy" if lifted else emotion]
        how = "the happy target (high valence, upbeat)" if lifted else f"the {emotion} target"
        why = f"{said}: straight to {how} {_at(goal.valence, goal.energy)}"
        return goal.valence, goal.energy, why
    return _iso(said, emotion, current, rules)


def _iso(
    said: str, emotion: str, current: Track | None, rules: RulesConfig
) -> tuple[float, float, str]:
    goal = rules.targets[emotion]
    if current is None:
        mood = rules.moods[emotion]
        meet = f"{said}: nothing playing, meet the mood at {_at(mood.valence, mood.energy)}"
        return mood.valence, mood.energy, meet
    cv, ce, untagged = _point(current)
    valence = _toward(cv, goal.valence, rules.step)
    energy = _toward(ce, goal.energy, rules.step)
    start = f"untagged {_at(cv, ce)}" if untagged else _at(cv, ce)
    return valence, energy, (
        f"{said}: from {start} one step (<= {rules.step:.2f}) toward "
        f"{_at(goal.valence, goal.energy)} -> {_at(valence, energy)}"
    )


def _keep_direction(
    reading: MoodReading | None, current: Track | None, history: Sequence[Track], rules: RulesConfig
) -> tuple[float, float, str]:
    """Continue the last move between played tracks (capped at ``rules.step``)."""
    said = "no reading" if reading is None else reading.emotion
    if reading is not None and reading.faces:
        said += f" {reading.confidence:.0%}"
    played = list(history)
    if current is not None and (not played or played[-1].path != current.path):
        played.append(current)
    if not played:
        goal = rules.targets["neutral"]
        start = f"{said}: nothing played yet, the neutral target {_at(goal.valence, goal.energy)}"
        return goal.valence, goal.energy, start
    lv, le, _ = _point(played[-1])
    pv, pe, _ = _point(played[-2]) if len(played) > 1 else (lv, le, False)
    dv = max(-rules.step, min(rules.step, lv - pv))
    de = max(-rules.step, min(rules.step, le - pe))
    valence, energy = _clamp(lv + dv), _clamp(le + de)
    return valence, energy, (
        f"{said}: keeping the direction (v{dv:+.2f} e{de:+.2f} per track) -> "
        f"{_at(valence, energy)}"
    )


def _candidates(
    library: Sequence[Track], current: Track | None, history: Sequence[Track], no_repeat: int
) -> tuple[list[Track], str]:
    """Tracks allowed next, and a note when the no-repeat window had to be relaxed."""
    recent = {t.path for t in history[-no_repeat:]} if no_repeat > 0 else set()
    if current is not None:
        recent.add(current.path)
    fresh = [t for t in library if t.path not in recent]
    if fresh:
        return fresh, ""
    others = [t for t in library if current is None or t.path != current.path]
    if others:
        return others, "; every track was played recently, so one repeats"
    return list(library), "; the only track, so it repeats"


def _pick(
    pool: Sequence[Track],
    target: tuple[float, float],
    band: float,
    history: Sequence[Track],
    origin: float | None,
    prefer: Prefer | None = None,
) -> tuple[Track, str]:
    """The least recently played track in the band around the target, else the nearest.

    With ``origin`` (the current valence, for iso) the band also ends ``band`` from it.
    """
    valence, energy = target
    last_played = {t.path: i for i, t in enumerate(history)}

    def distance(track: Track) -> float:
        tv, te, _ = _point(track)
        return math.hypot(tv - valence, _ENERGY_WEIGHT * (te - energy))

    in_band = [
        t for t in pool
        if _within(t, valence, energy, band)
        and (origin is None or abs(_point(t)[0] - origin) <= band + 1e-9)
    ]
    if in_band:
        ranked = sorted(in_band, key=lambda t: (last_played.get(t.path, -1), distance(t), t.path))
        best, how = prefer(ranked) if prefer else (ranked[0], "least recently played")
        return best, f"{how} of {len(in_band)} within {band:.2f} of the target"
    best = min(pool, key=lambda t: (distance(t), last_played.get(t.path, -1), t.path))
    return best, f"the nearest, as none is within {band:.2f} of the target"


def _within(track: Track, valence: float, energy: float, band: float) -> bool:
    tv, te, _ = _point(track)
    # A hair of tolerance so a track exactly on the band's edge counts despite float error.
    return abs(tv - valence) <= band + 1e-9 and abs(te - energy) <= band + 1e-9


def _point(track: Track) -> tuple[float, float, bool]:
    """A track's (valence, energy, untagged); missing values count as neutral."""
    valence = NEUTRAL if track.valence is None else track.valence
    energy = NEUTRAL if track.energy is None else track.energy
    return valence, energy, track.valence is None


def _toward(start: float, goal: float, step: float) -> float:
    return start + max(-step, min(step, goal - start))


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _at(valence: float, energy: float) -> str:
    return f"v{valence:.2f} e{energy:.2f}"


def _name(track: Track) -> str:
    return f"'{track.title}' by {track.artist}" if track.artist else f"'{track.title}'"
