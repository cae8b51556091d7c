"""Learning which songs lift the mood: pure functions, and the simulated listener."""

from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.config import parse_config
from appliance.mood.reading import MoodReading
from appliance.music.learning import (
    Observation,
    fit_baseline,
    learn,
    preference,
    region,
)
from appliance.music.library import Track
from appliance.music.rules import Pick, choose_next

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import simulate_listener

SETTINGS = parse_config({}).learning
RULES = parse_config({}).rules


def _obs(path: str, delta: float, n: int, weight: float = 1.0, v: float = 0.5) -> list[Observation]:
    return [Observation(path, v, 0.5, 0.0, delta, weight) for _ in range(n)]


def test_estimate_shrinks_toward_zero_with_few_plays() -> None:
    one = learn(_obs("a", 0.4, 1), prior_plays=4, cells=1)
    many = learn(_obs("a", 0.4, 40), prior_plays=4, cells=1)
    assert 0 < one.tracks["a"].lift < 0.2  # 0.4 observed once
    assert 0.3 < many.tracks["a"].lift < 0.4
    assert many.tracks["a"].plays == 40


def test_cut_plays_count_by_fraction_played() -> None:
    learned = learn(_obs("a", 0.4, 4, weight=0.25) + _obs("z", 0.4, 4, weight=0.0),
                    prior_plays=4, cells=1)
    assert learned.tracks["a"].plays == pytest.approx(1.0)
    assert "z" not in learned.tracks  # weight 0: nothing heard, nothing learned


def test_new_tracks_inherit_their_region() -> None:
    happy = [o for i in range(5) for o in _obs(f"h{i}", 0.3, 6, v=0.9)]
    sad = [o for i in range(5) for o in _obs(f"s{i}", -0.3, 6, v=0.1)]
    learned = learn(happy + sad, prior_plays=4, cells=3)
    new_happy = Track("/new.mp3", "new", "", 1.0, 0.95, 0.5)
    new_sad = Track("/new2.mp3", "new", "", 1.0, 0.05, 0.5)
    assert learned.effect(new_happy).lift > 0.1 > -0.1 > learned.effect(new_sad).lift
    assert learned.effect(new_happy).plays == 0
    assert region(None, None, 3) == (1, 1) and region(1.0, 0.0, 3) == (2, 0)


def test_baseline_removes_regression_to_the_mean() -> None:
    # The end reading is half the starting one plus noise-free offset: no track does anything.
    rng = random.Random(1)
    obs = []
    for i in range(200):
        before = rng.uniform(-1, 1)
        obs.append(Observation(f"t{i % 10}", 0.9 if before < 0 else 0.1, 0.5, before,
                               0.5 * before + 0.1))
    alpha, beta = fit_baseline(obs)
    assert alpha == pytest.approx(0.1) and beta == pytest.approx(0.5)
    learned = learn(obs, prior_plays=4, cells=3)
    assert max(abs(e.lift) for e in learned.tracks.values()) < 1e-9
    assert fit_baseline(obs[:3]) == (0.0, 1.0)  # too few: plain differences


def _band() -> list[Track]:
    return [Track(f"/m/{n}.mp3", n, "", 1.0, 0.5, 0.5) for n in ("old", "good", "new")]


def test_preference_weighs_lift_against_variety() -> None:
    old, good, new = _band()
    learned = learn(_obs(good.path, 0.5, 30) + _obs(old.path, 0.0, 30), prior_plays=4, cells=1)
    never = replace(SETTINGS, explore=0.0)
    pick = preference(learned, never, random.Random(0))([old, good, new])
    assert pick.track == good and pick.how.startswith("the best learned lift (learned lift +0.")
    assert not pick.explored
    off = replace(never, weight=0.0)
    pick = preference(learned, off, random.Random(0))([old, good, new])
    assert pick.track == old and pick.how.startswith("least recently played")
    always = replace(SETTINGS, explore=0.5)
    picks = [preference(learned, always, random.Random(s))([old, good, new]) for s in range(40)]
    explored = [p.track for p in picks if p.explored]
    assert explored and set(explored) == {new}  # the least known one
    assert len(explored) < len(picks)
    # The flag and the reason's words agree; the words stay for people.
    assert all(p.how.startswith("exploring: the least known (") == p.explored for p in picks)
    switched_off = replace(always, weight=0.0)  # weight 0: no exploring either
    assert {preference(learned, switched_off, random.Random(s))([old, good, new]).track
            for s in range(40)} == {old}


def test_the_reason_says_nothing_is_learned_before_any_play() -> None:
    old, good, new = _band()
    never = replace(SETTINGS, explore=0.0)
    pick = preference(learn([], prior_plays=4, cells=1), never, random.Random(0))(
        [old, good, new])
    assert pick == Pick(old, "least recently played (nothing learned yet)")
    # Heard tracks in the same region: a new one inherits the region's lift and says so.
    learned = learn(_obs(good.path, 0.5, 30), prior_plays=4, cells=1)
    how = preference(learned, never, random.Random(0))([new]).how
    assert how.startswith("least recently played (not heard yet; its region's learned lift +0.")


def test_choose_next_uses_learning_only_inside_the_band() -> None:
    tracks = [Track(f"/m/{v}.mp3", str(v), "", 1.0, v, 0.5) for v in (0.1, 0.45, 0.55, 0.9)]
    lifted = learn(_obs("/m/0.9.mp3", 0.9, 50) + _obs("/m/0.1.mp3", 0.9, 50), 4, 1)
    prefer = preference(lifted, replace(SETTINGS, explore=0.0), random.Random(0))
    sad = MoodReading("sad", 0.9, {"sad": 0.9}, faces=1, frames=1)
    current = tracks[1]
    choice = choose_next(sad, current, tracks, [current], RULES, prefer)
    # iso from 0.45 may move at most one step: 0.9 and 0.1 stay out however good they are.
    assert choice.track == tracks[2]
    assert "of 1 within 0.15 of the target" in choice.reason


def test_choose_next_carries_the_exploring_flag_not_the_words() -> None:
    # A title with the word in it, picked without exploring: the flag stays down.
    tracks = [Track(f"/m/{n}.mp3", t, "", 1.0, 0.5, 0.5)
              for n, t in (("a", "still exploring"), ("b", "b"), ("c", "c"))]
    heard = learn(_obs("/m/a.mp3", 0.0, 5) + _obs("/m/b.mp3", 0.0, 5), 4, 1)
    for explore, track in ((0.0, tracks[0]), (1.0, tracks[2])):
        prefer = preference(heard, replace(SETTINGS, explore=explore), random.Random(0))
        choice = choose_next(None, None, tracks, [], RULES, prefer)
        assert choice.track == track and choice.explored == (explore == 1.0)
        assert ("exploring: the least known (0.0 plays)" in choice.reason) == choice.explored
        assert "exploring" in choice.reason  # the title, or the exploring itself
    assert not choose_next(None, None, tracks, [], RULES).explored  # no preference at all


def test_simulated_listener_runs_with_the_real_chooser() -> None:
    config = parse_config({})
    scenario = simulate_listener.Scenario(songs=120)
    run = simulate_listener.simulate(3, scenario, config, learning=True)
    assert len(run.played) == 120 and len(run.planted) == 3
    assert run.explored > 0  # counted from the choices' flag (2 for this seed)
    summary = simulate_listener.evaluate(2, scenario, config)
    assert 0 <= summary.top3_rate <= 1 and 0 <= summary.share_plain <= 1
    assert 0 <= summary.share_ceiling <= 1 and 0 <= summary.heard_ceiling <= 1
    assert summary.null_max_lift < 0.2
    assert len(simulate_listener.report(summary)) == 3


def test_ceiling_plays_planted_tracks_only_inside_the_band() -> None:
    # The ceiling knows the planted tracks but goes through the same rules: with the band
    # opened (step 1) it plays them far more than plain rules; it is a bound, not a learner.
    config = parse_config({"rules": {"step": 1.0}})
    scenario = simulate_listener.Scenario(songs=120)
    best = simulate_listener.simulate(1, scenario, config, learning=False, ceiling=True)
    plain = simulate_listener.simulate(1, scenario, config, learning=False)
    assert simulate_listener.share(best) > 2 * simulate_listener.share(plain)
    assert simulate_listener.heard(best)


@pytest.mark.parametrize("spread", ["uniform", "catalog", "reach"])
def test_simulated_libraries_stay_on_the_plane(spread: str) -> None:
    scenario = simulate_listener.Scenario(spread=spread)
    tracks, lifts = simulate_listener.library(5, scenario)
    assert len(tracks) == 30 and sum(v > 0 for v in lifts.values()) == 3
    assert all(0 <= (t.valence or 0) <= 1 and 0 <= (t.energy or 0) <= 1 for t in tracks)
