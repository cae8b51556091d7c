"""The valence rules: a pure choice of the next track from a mood reading.

Music sits on a valence (sad to happy) and energy (calm to energetic) plane, both 0..1. Each
strategy turns a decided reading into a target point on it:

- ``match``: mood-congruent, the emotion's own point (``rules.moods``).
- ``uplift``: the prototype's rule: sad or afraid go straight to high-valence, upbeat music
  (the ``happy`` target); any other emotion straight to its own ``rules.targets`` point.
- ``iso``: the iso principle of music therapy: start where the listener is and move toward
  the emotion's ``rules.targets`` point by at most ``rules.step`` per track, in valence and in
  energy (the shipped targets for anger and fear have low energy, so those calm down). The
  origin is the listener's own point (``rules.moods``), except on an axis where the current
  track already lies on the way from that point to the target (or within a step past the
  target, where the band lets the walk wander): there the walk goes on from the current
  track. So a track far from the listener's mood does not hold the listener off.

A reading that decides nothing ("no face", "unsure", or none at all) keeps the direction the
last two tracks took; from ``DECAY_AFTER`` such readings in a row on, the music steps back
toward the neutral target instead, so it never runs to the extremes.

The band is every track within ``rules.step`` of the target (for iso also within a step of the
origin: the step cap). The order of preference, and the reason line names which one applied:
1. fresh in the band (not in the last ``rules.no_repeat``): the least recently played;
2. recent but in the band: the least recently played of them;
3. for iso, the nearest track within one step of the origin;
4. the nearest track overall (fresh ones first).
Tracks without tags count as neutral (0.5) and the reason says so; values estimated from the
audio are used like tags, and the reason adds "estimated".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from appliance.config import RulesConfig
from appliance.errors import LibraryError
from appliance.mood.reading import MoodReading
from appliance.music.library import Track

#: Valence and energy assumed for a track that has no tags.
NEUTRAL = 0.5
# Valence leads the choice; energy counts half as much when measuring distance.
_ENERGY_WEIGHT = 0.5
#: Undecided readings in a row after which the music drifts back toward neutral.
DECAY_AFTER = 3


@dataclass(frozen=True)
class Pick:
    """A track picked among the band's, how (words for the reason line), and whether it was
    an exploration: a try of the least known track rather than the best known one.

    ``explored`` is its own value because the history stores it as a flag, and a flag must
    not hang on the wording of a text meant for people.
    """

    track: Track
    how: str
    explored: bool = False


#: Picks among the band's tracks, given best first in the rules' order.
Prefer = Callable[[Sequence[Track]], Pick]


@dataclass(frozen=True)
class Choice:
    """The next track, the point the rules aimed at, why (in one line), and whether the
    preference explored (see ``Pick``)."""

    track: Track
    reason: str
    target_valence: float
    target_energy: float
    explored: bool = False


def choose_next(
    reading: MoodReading | None,
    current: Track | None,
    library: Sequence[Track],
    history: Sequence[Track],
    rules: RulesConfig,
    prefer: Prefer | None = None,
    undecided: int = 0,
) -> Choice:
    """Choose the track to play after ``current``.

    Args:
        reading: the latest mood check, or ``None`` when there was none.
        current: the track playing now, or ``None``.
        library: the playable tracks.
        history: the tracks played so far, newest last (may include ``current``).
        rules: the ``[rules]`` config.
        prefer: picks among the fresh tracks within the band instead of the least recently
            played one (e.g. ``appliance.music.learning.preference``); never sees others.
        undecided: readings in a row, this one included, that decided nothing; from
            ``DECAY_AFTER`` on the music drifts back toward the neutral target.

    Raises:
        LibraryError: ``library`` is empty.
    """
    if not library:
        raise LibraryError("no playable tracks to choose from; scan the music folder")
    origin: tuple[float, float] | None = None
    if reading is not None and reading.decided and rules.strategy == "iso":
        valence, energy, origin, why = _iso(reading, current, rules)
    else:
        valence, energy, why = _target(reading, current, history, rules, undecided)
    pick = _pick(library, current, (valence, energy), rules, history, origin, prefer)
    track = pick.track
    tv, te, untagged = _point(track)
    tagged = f"untagged, taken as neutral {_at(tv, te)}" if untagged else _at(tv, te)
    if track.source == "estimated" and not untagged:
        tagged += ", estimated"  # from the audio, not a tag or a person: say so
    reason = f"{why}; chose {_name(track)} ({tagged}), {pick.how}"
    return Choice(track, reason, valence, energy, pick.explored)


def _target(
    reading: MoodReading | None, current: Track | None, history: Sequence[Track],
    rules: RulesConfig, undecided: int,
) -> tuple[float, float, str]:
    """The target point and the first half of the reason (all but iso's decided readings)."""
    if reading is None or not reading.decided:
        return _keep_direction(reading, current, history, rules, undecided)
    emotion = reading.emotion
    said = f"{rules.strategy}: {emotion} {reading.confidence:.0%}"
    if rules.strategy == "match":
        mood = rules.moods[emotion]
        return mood.valence, mood.energy, f"{said}: mood-congruent {_at(mood.valence, mood.energy)}"
    lifted = emotion in ("sad", "fear")
    goal = rules.targets["happy" if lifted else emotion]
    how = "the happy target (high valence, upbeat)" if lifted else f"the {emotion} target"
    return goal.valence, goal.energy, f"{said}: straight to {how} {_at(goal.valence, goal.energy)}"


def _iso(
    reading: MoodReading, current: Track | None, rules: RulesConfig
) -> tuple[float, float, tuple[float, float], str]:
    """iso: the origin is the listener's mood point, or the current track where it already
    lies on the way from that point to the target (per axis); the target is one step on."""
    emotion = reading.emotion
    mood, goal = rules.moods[emotion], rules.targets[emotion]
    said = f"iso: {emotion} {reading.confidence:.0%}"
    origin = (mood.valence, mood.energy)
    where = f"the listener's {emotion} point {_at(*origin)}"
    if current is not None:
        cv, ce, _ = _point(current)
        on_way = (_on_way(cv, mood.valence, goal.valence, rules.step),
                  _on_way(ce, mood.energy, goal.energy, rules.step))
        if any(on_way):
            origin = (cv if on_way[0] else mood.valence, ce if on_way[1] else mood.energy)
            where = f"the current track {_at(cv, ce)}, already on the way from the mood"
            if not all(on_way):
                where += f" (its {'energy' if on_way[0] else 'valence'} from the mood point)"
    valence = _toward(origin[0], goal.valence, rules.step)
    energy = _toward(origin[1], goal.energy, rules.step)
    return valence, energy, origin, (
        f"{said}: from {where} one step (<= {rules.step:.2f}) toward "
        f"{_at(goal.valence, goal.energy)} -> {_at(valence, energy)}")


def _on_way(value: float, start: float, goal: float, past_goal: float) -> bool:
    """Between the mood and the goal, or at most ``past_goal`` beyond the goal (the band
    around the goal lets the walk wander there)."""
    if goal >= start:
        return start - 1e-9 <= value <= goal + past_goal + 1e-9
    return goal - past_goal - 1e-9 <= value <= start + 1e-9


def _keep_direction(
    reading: MoodReading | None, current: Track | None, history: Sequence[Track],
    rules: RulesConfig, undecided: int,
) -> tuple[float, float, str]:
    """Continue the last move between played tracks (capped at ``rules.step``); after
    ``DECAY_AFTER`` undecided readings in a row, step back toward the neutral target."""
    said = "no reading" if reading is None else reading.emotion
    if reading is not None and reading.faces:
        said += f" {reading.confidence:.0%}"
    played = list(history)
    if current is not None and (not played or played[-1].path != current.path):
        played.append(current)
    neutral = rules.targets["neutral"]
    if not played:
        return neutral.valence, neutral.energy, (
            f"{said}: nothing played yet, the neutral target "
            f"{_at(neutral.valence, neutral.energy)}")
    lv, le, _ = _point(played[-1])
    if undecided >= DECAY_AFTER:
        valence = _toward(lv, neutral.valence, rules.step)
        energy = _toward(le, neutral.energy, rules.step)
        return valence, energy, (
            f"{said}: {undecided} undecided readings in a row, drifting back toward neutral "
            f"{_at(neutral.valence, neutral.energy)} -> {_at(valence, energy)}")
    pv, pe, _ = _point(played[-2]) if len(played) > 1 else (lv, le, False)
    dv = max(-rules.step, min(rules.step, lv - pv))
    de = max(-rules.step, min(rules.step, le - pe))
    valence, energy = _clamp(lv + dv), _clamp(le + de)
    return valence, energy, (
        f"{said}: keeping the direction (v{dv:+.2f} e{de:+.2f} per track) -> "
        f"{_at(valence, energy)}"
    )


def _pick(
    library: Sequence[Track],
    current: Track | None,
    target: tuple[float, float],
    rules: RulesConfig,
    history: Sequence[Track],
    origin: tuple[float, float] | None,
    prefer: Prefer | None = None,
) -> Pick:
    """The next track, in the documented order of preference, and which rule gave it."""
    band = rules.step
    recent = {t.path for t in history[-rules.no_repeat:]} if rules.no_repeat > 0 else set()
    last_played = {t.path: i for i, t in enumerate(history)}
    others = [t for t in library if current is None or t.path != current.path]
    only = "" if others else "; the only track, so it repeats"
    others = others or list(library)

    def recency(t: Track) -> tuple[int, float, str]:
        return (last_played.get(t.path, -1), _distance(t, target), t.path)

    in_band = [t for t in others if _within(t, *target, band)
               and (origin is None or _within(t, *origin, band))]
    fresh = sorted((t for t in in_band if t.path not in recent), key=recency)
    if fresh:
        pick = prefer(fresh) if prefer else Pick(fresh[0], "least recently played")
        return replace(pick, how=f"fresh in the band: {pick.how} of {len(fresh)} within "
                                 f"{band:.2f} of the target")
    if in_band:
        best = min(in_band, key=recency)
        return Pick(best, f"recent but in the band: the least recently played of "
                          f"{len(in_band)} (no fresh track is within {band:.2f} of the "
                          f"target){only}")
    pool = [t for t in others if t.path not in recent]
    if not pool:
        pool = others
        only = only or "; every track was played recently, so one repeats"
    return _nearest(pool, target, origin, band, last_played, only)


def _nearest(
    pool: Sequence[Track], target: tuple[float, float], origin: tuple[float, float] | None,
    band: float, last_played: dict[str, int], only: str,
) -> Pick:
    """No track in the band: for iso the nearest within one step of the origin, else the
    nearest to the target (the least recently played on a tie)."""
    def nearness(t: Track) -> tuple[float, int, str]:
        return (_distance(t, target), last_played.get(t.path, -1), t.path)

    if origin is not None:
        near = [t for t in pool if _within(t, *origin, band)]
        if near:
            return Pick(min(near, key=nearness),
                        f"the nearest within one step ({band:.2f}) of the origin, as "
                        f"none is in the band{only}")
    return Pick(min(pool, key=nearness),
                f"the nearest, as none is within {band:.2f} of the target{only}")


def _distance(track: Track, point: tuple[float, float]) -> float:
    """Distance on the plane, energy weighted by ``_ENERGY_WEIGHT``."""
    tv, te, _ = _point(track)
    return math.hypot(tv - point[0], _ENERGY_WEIGHT * (te - point[1]))


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
