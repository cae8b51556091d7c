"""The valence rules, exhaustively: every emotion x strategy, bands, repeats, tiny libraries."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pytest

from appliance.config import RulesConfig, parse_config
from appliance.errors import LibraryError
from appliance.mood.reading import LABELS, NO_FACE, UNSURE, MoodReading
from appliance.music.library import Track
from appliance.music.rules import Choice, choose_next

STRATEGIES = ("uplift", "iso", "match")
EPS = 1e-9


def rules_for(strategy: str = "iso", **changes: Any) -> RulesConfig:
    return dataclasses.replace(parse_config({}).rules, strategy=strategy, **changes)


def track(name: str, valence: float | None, energy: float | None) -> Track:
    return Track(f"/music/{name}.mp3", name, "Artist", 180.0, valence, energy)


def grid() -> list[Track]:
    """A dense library: valence every 0.05, energy every 0.1, so every band has tracks."""
    return [
        track(f"v{v:02d}e{e:02d}", v / 20, e / 10) for v in range(21) for e in range(11)
    ]


def reading(emotion: str, confidence: float = 0.8) -> MoodReading:
    faces = 0 if emotion == NO_FACE else 3
    return MoodReading(emotion, confidence, faces=faces, frames=5)


def expected_target(strategy: str, emotion: str, current: Track | None) -> tuple[float, float]:
    rules = rules_for(strategy)
    if strategy == "match":
        point = rules.moods[emotion]
        return point.valence, point.energy
    if strategy == "uplift":
        point = rules.targets["happy" if emotion in ("sad", "fear") else emotion]
        return point.valence, point.energy
    origin = iso_origin(emotion, current)
    goal = rules.targets[emotion]

    def step(a: float, b: float) -> float:
        return a + max(-rules.step, min(rules.step, b - a))

    return step(origin[0], goal.valence), step(origin[1], goal.energy)


def iso_origin(emotion: str, current: Track | None) -> tuple[float, float]:
    """The listener's mood point, or per axis the current track where it already lies on the
    way from that point to the target."""
    rules = rules_for("iso")
    mood, goal = rules.moods[emotion], rules.targets[emotion]
    if current is None:
        return mood.valence, mood.energy
    assert current.valence is not None and current.energy is not None

    def pick(now: float, start: float, end: float) -> float:
        low, high = (start, end + rules.step) if end >= start else (end - rules.step, start)
        return now if low - EPS <= now <= high + EPS else start

    return (pick(current.valence, mood.valence, goal.valence),
            pick(current.energy, mood.energy, goal.energy))


CURRENTS = {
    "nothing": None,
    "sad-calm": track("current-low", 0.10, 0.20),
    "happy-wild": track("current-high", 0.90, 0.95),
    "middle": track("current-mid", 0.50, 0.50),
}


@pytest.mark.parametrize("current_name", sorted(CURRENTS))
@pytest.mark.parametrize("emotion", LABELS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_emotion_and_strategy(strategy: str, emotion: str, current_name: str) -> None:
    current = CURRENTS[current_name]
    library = grid()
    history = library[:5] + ([current] if current else [])
    choice = choose_next(reading(emotion), current, library, history, rules_for(strategy))
    target = expected_target(strategy, emotion, current)
    assert (choice.target_valence, choice.target_energy) == pytest.approx(target)
    chosen = choice.track
    assert chosen in library and chosen not in history
    assert chosen.valence is not None and chosen.energy is not None
    assert abs(chosen.valence - target[0]) <= 0.15 + EPS  # the band is never empty here
    assert abs(chosen.energy - target[1]) <= 0.15 + EPS
    if strategy == "iso":  # the step cap: never more than a step from the origin
        origin = iso_origin(emotion, current)
        assert abs(chosen.valence - origin[0]) <= 0.15 + EPS
        assert abs(chosen.energy - origin[1]) <= 0.15 + EPS
    assert choice.reason.startswith(f"{strategy}: {emotion} 80%: ")
    assert f"'{chosen.title}' by Artist" in choice.reason and "\n" not in choice.reason


@pytest.mark.parametrize("emotion", ["sad", "fear"])
def test_uplift_sends_sad_and_afraid_to_happy_upbeat_music(emotion: str) -> None:
    low = track("low", 0.1, 0.1)
    choice = choose_next(reading(emotion), low, grid(), [low], rules_for("uplift"))
    assert choice.target_valence >= 0.75 and choice.target_energy >= 0.6
    assert choice.track.valence is not None and choice.track.valence >= 0.65
    assert "high valence, upbeat" in choice.reason


@pytest.mark.parametrize(
    ("emotion", "low", "high"), [("sad", 0.0, 0.3), ("happy", 0.7, 1.0), ("angry", 0.05, 0.35)]
)
def test_match_is_mood_congruent(emotion: str, low: float, high: float) -> None:
    choice = choose_next(reading(emotion), None, grid(), [], rules_for("match"))
    assert choice.track.valence is not None and low <= choice.track.valence <= high
    assert "mood-congruent" in choice.reason


@pytest.mark.parametrize("emotion", LABELS)
def test_iso_walks_to_the_target_one_step_at_a_time(emotion: str) -> None:
    rules = rules_for("iso")
    goal = rules.targets[emotion]
    library = grid()
    mood = rules.moods[emotion]
    current = track("start", mood.valence, mood.energy)  # the music has met the mood
    history = [current]
    for _ in range(12):
        choice = choose_next(reading(emotion), current, library, history, rules)
        before, after = current.valence, choice.track.valence
        assert before is not None and after is not None
        assert abs(after - before) <= rules.step + EPS
        assert abs(after - goal.valence) <= abs(before - goal.valence) + 0.05 + EPS
        current = choice.track
        history.append(current)
    assert current.valence == pytest.approx(goal.valence, abs=0.15 + EPS)  # within the band
    assert current.energy == pytest.approx(goal.energy, abs=0.15 + EPS)  # within the band


@pytest.mark.parametrize("emotion", ["angry", "fear"])
def test_iso_calms_anger_and_fear(emotion: str) -> None:
    wild = track("wild", 0.3, 0.9)
    choice = choose_next(reading(emotion), wild, grid(), [wild], rules_for("iso"))
    assert choice.target_energy < 0.9 - 0.15 + EPS  # from the mood's energy, one step down
    assert choice.track.energy is not None and choice.track.energy < 0.9


def test_iso_at_the_goal_stays_there() -> None:
    rules = rules_for("iso")
    goal = rules.targets["happy"]
    here = track("here", goal.valence, goal.energy)
    choice = choose_next(reading("happy"), here, grid(), [here], rules)
    assert (choice.target_valence, choice.target_energy) == pytest.approx(
        (goal.valence, goal.energy)
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("undecided", [None, NO_FACE, UNSURE])
@pytest.mark.parametrize(
    ("valences", "expected"),
    [
        ((0.3, 0.4), 0.5),  # rising: keeps rising
        ((0.6, 0.5), 0.4),  # falling: keeps falling
        ((0.1, 0.9), 1.0),  # a big jump is capped at one step, and at 1
        ((0.5, 0.5), 0.5),  # steady: stays
        ((0.7,), 0.7),  # one track: no direction yet
    ],
)
def test_undecided_keeps_the_current_direction(
    strategy: str, undecided: str | None, valences: tuple[float, ...], expected: float
) -> None:
    history = [track(f"h{i}", v, 0.5) for i, v in enumerate(valences)]
    mood = None if undecided is None else reading(undecided, 0.3)
    choice = choose_next(mood, history[-1], grid(), history, rules_for(strategy))
    assert choice.target_valence == pytest.approx(expected)
    assert choice.target_energy == pytest.approx(0.5)
    assert "keeping the direction" in choice.reason
    assert choice.reason.startswith(undecided or "no reading")


def test_direction_counts_a_current_track_missing_from_history() -> None:
    history = [track("a", 0.2, 0.5)]
    current = track("b", 0.3, 0.6)
    choice = choose_next(reading(NO_FACE), current, grid(), history, rules_for())
    assert (choice.target_valence, choice.target_energy) == pytest.approx((0.4, 0.7))


def test_undecided_with_nothing_played_aims_at_the_neutral_target() -> None:
    rules = rules_for()
    choice = choose_next(None, None, grid(), [], rules)
    neutral = rules.targets["neutral"]
    assert (choice.target_valence, choice.target_energy) == (neutral.valence, neutral.energy)
    assert "nothing played yet" in choice.reason


def same_point_library(count: int) -> list[Track]:
    return [track(f"t{i:02d}", 0.5, 0.5) for i in range(count)]


@pytest.mark.parametrize("no_repeat", [0, 1, 3, 10])
def test_no_repeats_within_the_window(no_repeat: int) -> None:
    library = same_point_library(12)
    rules = rules_for("match", no_repeat=no_repeat)
    history: list[Track] = []
    current = None
    for _ in range(40):
        choice = choose_next(reading("neutral"), current, library, history, rules)
        assert choice.track != current
        if no_repeat:
            assert choice.track not in history[-no_repeat:]
        current = choice.track
        history.append(current)
    if no_repeat >= 1:  # the least recently played goes first, so all tracks take turns
        assert set(history[:12]) == set(library)


def test_when_every_track_is_recent_the_least_recent_repeats() -> None:
    library = same_point_library(4)
    history = [library[2], library[0], library[3], library[1]]
    choice = choose_next(reading("happy"), library[1], library, history, rules_for(no_repeat=10))
    assert choice.track == library[2]
    assert "every track was played recently" in choice.reason


def test_a_single_track_library_repeats_it() -> None:
    only = track("only", 0.5, 0.5)
    choice = choose_next(reading("sad"), only, [only], [only, only], rules_for())
    assert choice.track == only and "the only track" in choice.reason


def test_two_tracks_alternate() -> None:
    a, b = track("a", 0.2, 0.2), track("b", 0.9, 0.9)
    played = [a]
    for _ in range(4):
        played.append(choose_next(reading("sad"), played[-1], [a, b], played, rules_for()).track)
    assert played == [a, b, a, b, a]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_empty_band_falls_back_to_the_nearest_track(strategy: str) -> None:
    library = [track("floor", 0.0, 0.0), track("ceiling", 1.0, 1.0), track("dark", 0.05, 0.9)]
    choice = choose_next(reading("neutral"), None, library, [], rules_for(strategy))
    v, e = choice.target_valence, choice.target_energy

    def distance(t: Track) -> float:  # valence counts twice as much as energy
        assert t.valence is not None and t.energy is not None
        return math.hypot(t.valence - v, (t.energy - e) / 2)

    assert all(distance(t) > 0.15 for t in library)
    assert choice.track == min(library, key=distance)
    assert "the nearest, as none is within 0.15 of the target" in choice.reason


def test_untagged_tracks_count_as_neutral_and_say_so() -> None:
    untagged = track("untagged", None, None)
    library = [untagged, track("sad", 0.05, 0.1), track("joy", 0.95, 0.9)]
    choice = choose_next(reading("neutral"), None, library, [], rules_for("match"))
    assert choice.track == untagged
    assert "(untagged, taken as neutral v0.50 e0.50)" in choice.reason
    iso = choose_next(reading("angry"), untagged, library, [untagged], rules_for("iso"))
    assert iso.target_valence == pytest.approx(0.6)  # neutral lies on anger's way
    assert "from the current track v0.50" in iso.reason


def test_partly_tagged_track_uses_what_it_has() -> None:
    half = track("half", 0.9, None)
    choice = choose_next(reading("happy"), None, [half], [], rules_for("match"))
    assert "(v0.90 e0.50)" in choice.reason


def test_targets_come_from_the_config() -> None:
    config = parse_config({"rules": {"strategy": "uplift", "targets": {"happy": {"valence": 0.2}}}})
    choice = choose_next(reading("sad"), None, grid(), [], config.rules)
    assert choice.target_valence == 0.2
    assert choice.track.valence == pytest.approx(0.2)


def test_empty_library_is_a_library_error() -> None:
    with pytest.raises(LibraryError, match="no playable tracks"):
        choose_next(reading("sad"), None, [], [], rules_for())


def test_pure_and_deterministic() -> None:
    library = tuple(grid())
    history = tuple(library[10:20])
    args = (reading("fear"), library[15], library, history, rules_for("iso"))
    first = choose_next(*args)
    assert isinstance(first, Choice)
    assert all(choose_next(*args) == first for _ in range(3))
    assert library == tuple(grid()) and history == tuple(library[10:20])


@pytest.mark.parametrize(("emotion", "strategy"), list(itertools.product(LABELS, STRATEGIES)))
def test_tiny_sparse_library_always_chooses_something_sensible(
    emotion: str, strategy: str
) -> None:
    library = [track("a", 0.1, 0.9), track("b", None, 0.3), track("c", 0.8, None)]
    history: list[Track] = []
    for _ in range(6):
        current = history[-1] if history else None
        choice = choose_next(reading(emotion), current, library, history, rules_for(strategy))
        assert choice.track != current
        assert 0 <= choice.target_valence <= 1 and 0 <= choice.target_energy <= 1
        history.append(choice.track)


def test_iso_meets_a_sad_listener_while_a_happy_track_plays() -> None:
    happy = track("happy-now", 0.95, 0.9)
    rules = rules_for("iso")
    choice = choose_next(reading("sad"), happy, grid(), [happy], rules)
    mood = rules.moods["sad"]
    assert choice.track.valence is not None and choice.track.energy is not None
    assert abs(choice.track.valence - mood.valence) <= rules.step + EPS
    assert "from the listener's sad point" in choice.reason


def test_iso_step_cap_prefers_a_track_within_a_step_of_the_origin() -> None:
    rules = rules_for("iso")
    mood = rules.moods["sad"]  # origin v0.15 e0.25, target v0.30 e0.40
    near = track("near", 0.22, 0.11)  # within a step of the origin, outside the band
    far = track("far", 0.46, 0.40)  # nearer the target overall, too far from the origin
    assert mood.valence == 0.15
    choice = choose_next(reading("sad"), None, [near, far], [], rules)
    assert choice.track == near
    assert "within one step" in choice.reason


def test_a_recent_track_in_the_band_beats_a_fresh_one_far_away() -> None:
    rules = rules_for("uplift", no_repeat=10)
    happy = [track("h1", 0.8, 0.7), track("h2", 0.85, 0.7)]
    sad = track("sad", 0.3, 0.3)
    history = [happy[1], happy[0], sad]
    choice = choose_next(reading("sad"), sad, [*happy, sad], history, rules)
    assert choice.track == happy[1]  # the least recently played of the two in the band
    assert "recent but in the band" in choice.reason


def test_undecided_readings_drift_back_toward_neutral() -> None:
    rules = rules_for("iso")
    history = [track("a", 0.5, 0.7), track("b", 0.5, 0.85)]
    keep = choose_next(reading(NO_FACE), history[-1], grid(), history, rules, undecided=2)
    assert keep.target_energy == pytest.approx(1.0)
    back = choose_next(reading(NO_FACE), history[-1], grid(), history, rules, undecided=3)
    assert back.target_energy == pytest.approx(0.7) and "toward neutral" in back.reason


def test_the_reason_says_when_the_chosen_tracks_values_were_estimated() -> None:
    guessed = Track("/music/guessed.mp3", "guessed", "Artist", 180.0, 0.8, 0.7, "estimated",
                    "valence-4q-0123abcd")
    choice = choose_next(reading("happy"), None, [guessed], [], rules_for("match"))
    assert "(v0.80 e0.70, estimated)" in choice.reason
    tagged = choose_next(reading("happy"), None, [track("tagged", 0.8, 0.7)], [],
                         rules_for("match"))
    assert "estimated" not in tagged.reason
