"""The chooser records whether the learning explored (issue 13) as a flag carried from the
decision, not read from the reason's words. Over a real SQLite history in tmp_path."""

from __future__ import annotations

import random
from pathlib import Path

from appliance.config import Config, parse_config
from appliance.daemon.choosing import Chooser
from appliance.daemon.events import EventLog
from appliance.music.history import ChoiceRow, History
from appliance.music.library import Track


def _config(tmp_path: Path, explore: float) -> Config:
    return parse_config({"library": {"database": str(tmp_path / "library.sqlite3")},
                         "learning": {"explore": explore}})


def _tracks(config: Config) -> list[Track]:
    # All at the neutral target, where the first choice aims: every one is in the band. The
    # first by path (the rules' own pick) has the word "exploring" in its title.
    at = config.rules.targets["neutral"]
    return [Track(f"/m/{n}.mp3", t, "", 1.0, at.valence, at.energy)
            for n, t in (("a", "still exploring"), ("b", "b"), ("c", "c"))]


def _choose(tmp_path: Path, explore: float, note: str = "") -> tuple[Track, ChoiceRow]:
    config = _config(tmp_path, explore)
    tracks = _tracks(config)
    with History.from_config(config) as history:
        # Random(1)'s first draw is 0.13: below the highest explore allowed (0.5), it explores.
        chooser = Chooser(config, EventLog(None), history, random.Random(1))
        queued = chooser.choose(None, None, tracks, note=note)
        rows = history.choices()
    assert len(rows) == 1 and rows[0].id == queued.choice_id
    return queued.choice.track, rows[0]


def test_an_exploring_choice_is_recorded_as_explored(tmp_path: Path) -> None:
    track, row = _choose(tmp_path, explore=0.5)
    assert row.explored and row.path == track.path
    assert "exploring: the least known (0.0 plays)" in row.reason  # the words stay for people


def test_the_word_exploring_elsewhere_in_the_reason_is_not_a_flag(tmp_path: Path) -> None:
    track, row = _choose(tmp_path, explore=0.0, note="exploring the new folder next")
    assert track.title == "still exploring"  # the rules' own pick, not an exploration
    assert "'still exploring'" in row.reason and row.reason.endswith("the new folder next")
    assert "exploring: the least known" not in row.reason
    assert not row.explored
