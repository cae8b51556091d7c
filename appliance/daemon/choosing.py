"""The choice of the next track, and its record in the listening history.

``Chooser`` keeps what the rules need to choose (the tracks played, newest last, and how many
readings in a row decided nothing), asks the learning for a preference inside the rules' band,
and writes each mood check, choice and play to ``appliance.music.history``. At start the
played tracks come back from the database, so the no-repeat window and the rules' direction
survive a restart. A history that cannot be written (a locked or full disk) is reported once
and the music goes on without it. A part of ``Session``; same thread.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from appliance.config import Config
from appliance.daemon.events import EventLog
from appliance.errors import LibraryError
from appliance.mood.reading import MoodReading
from appliance.music.history import History
from appliance.music.learning import learn, preference
from appliance.music.library import Track
from appliance.music.rules import Choice, Prefer, choose_next

log = logging.getLogger(__name__)

#: Tracks kept in memory (and read back at start) for the rules' recency order.
HISTORY_LEN = 1000
#: The newest plays the learning reads at each choice. It runs on the loop's thread, and both
#: steps grow with the history: on the development PC, 30 days of dense listening (4,563
#: observations) took 0.04 s to read, and learning from 86,000 took 0.2 s; a Pi is several
#: times slower (not measured). 5,000 bounds that, and keeps the estimate to recent listening.
LEARN_FROM = 5000
T = TypeVar("T")


class Queued(NamedTuple):
    """A chosen track waiting to play: the choice, the reading that led to it, and the ids of
    its check and choice rows in the history (None when not stored)."""

    choice: Choice
    reading: MoodReading | None
    check_id: int | None = None
    choice_id: int | None = None


class Chooser:
    """Chooses with the rules and the learning; records checks, choices and plays.

    Args:
        config: the effective configuration.
        events: where ``track_chosen`` goes.
        history: the history tables (None: nothing is recorded or restored).
        rng: the dice of the learning's exploration.
    """

    def __init__(self, config: Config, events: EventLog, history: History | None,
                 rng: random.Random | None = None) -> None:
        self.config, self.events, self.db = config, events, history
        self.rng = rng or random.Random()
        self.played: list[Track] = []
        self.undecided = 0  # choices in a row made without a decided reading
        self.play_id: int | None = None  # the history row of the play under way
        self._failed = False

    def restore(self, tracks: Sequence[Track]) -> None:
        """Take the tracks played before a restart (those still in the library)."""
        by_path = {t.path: t for t in tracks}
        no_paths: list[str] = []
        paths = self._safely(lambda db: db.recent_paths(HISTORY_LEN), no_paths)
        self.played = [by_path[p] for p in paths if p in by_path]
        if self.played:
            log.info("history: %d earlier plays taken back, the last %s", len(self.played),
                     self.played[-1].path)

    def check(self, reading: MoodReading | None, trigger: str) -> int | None:
        """Record a check whose result is used (``trigger``: end, button or start)."""
        play = self.play_id
        return self._safely(lambda db: db.record_check(reading, trigger, play), None)

    def choose(self, reading: MoodReading | None, current: Track | None,
               tracks: Sequence[Track], note: str = "", check_id: int | None = None) -> Queued:
        """Choose the next track with ``reading``; say why and record it."""
        rules = self.config.rules
        self.undecided = 0 if reading is not None and reading.decided else self.undecided + 1
        choice = choose_next(reading, current, tracks, self.played, rules,
                             prefer=self._preference(), undecided=self.undecided)
        track = choice.track
        reason = f"{choice.reason}; {note}" if note else choice.reason
        self.events.emit("track_chosen", path=track.path, valence=track.valence,
                         energy=track.energy, strategy=rules.strategy, reason=reason)
        choice_id = self._safely(
            lambda db: db.record_choice(track.path, reason, check_id, explored=choice.explored),
            None)
        return Queued(choice, reading, check_id, choice_id)

    def started(self, track: Track, choice_id: int | None) -> None:
        """``track`` really plays: it enters the played list and the history."""
        self.played = [*self.played[-HISTORY_LEN:], track]
        self.play_id = self._safely(lambda db: db.start_play(track, choice_id), None)

    def ended(self, how: str, fraction: float) -> None:
        """The play under way ended: finished, skipped, failed or stopped."""
        play, self.play_id = self.play_id, None
        if play is not None:
            self._safely(lambda db: db.end_play(play, how, fraction), None)

    def _preference(self) -> Prefer | None:
        settings = self.config.learning
        if self.db is None or not self.config.history.enabled or settings.weight == 0:
            return None  # no learning: the rules' own order, and no history to read
        nothing = learn([], settings.prior_plays, settings.regions)
        learned = self._safely(lambda db: db.learned(settings, LEARN_FROM), nothing)
        return preference(learned, settings, self.rng)

    def _safely(self, write: Callable[[History], T], default: T) -> T:
        """Run ``write`` on the history; a failure is reported once and ``default`` given."""
        if self.db is None:
            return default
        try:
            result = write(self.db)
        except LibraryError as exc:
            if not self._failed:
                self._failed = True
                log.warning("%s; the music goes on without recording", exc)
                self.events.emit("error", component="history", message=str(exc))
            return default
        self._failed = False
        return result
