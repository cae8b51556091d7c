"""Mood as numbers: a reading's valence (-1..1) and arousal (-1..1) on Russell's circumplex.

Each emotion class sits at a point of the plane (``mood.circumplex`` in the config); a reading's
point is the probability-weighted mean of its classes' points, so a reading split between happy
and neutral lands between them. A reading that saw no face has no point (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from appliance.mood.reading import MoodReading


class Point(Protocol):
    """Where one emotion sits: ``valence`` and ``arousal``, both -1..1."""

    @property
    def valence(self) -> float: ...

    @property
    def arousal(self) -> float: ...


def mood_point(
    probabilities: Mapping[str, float], table: Mapping[str, Point]
) -> tuple[float, float] | None:
    """The (valence, arousal) of class probabilities, or ``None`` when there are none.

    Classes missing from ``table`` are left out; the rest are renormalised, so the result
    stays inside the table's range even when the probabilities do not sum to one.
    """
    weights = {k: max(0.0, float(p)) for k, p in probabilities.items() if k in table}
    total = sum(weights.values())
    if total <= 0.0:
        return None
    valence = sum(p * table[k].valence for k, p in weights.items()) / total
    arousal = sum(p * table[k].arousal for k, p in weights.items()) / total
    return valence, arousal


def reading_point(
    reading: MoodReading | None, table: Mapping[str, Point]
) -> tuple[float, float] | None:
    """The (valence, arousal) of a reading; ``None`` when there is none or it saw no face.

    An "unsure" reading still has probabilities and so a point; callers that must not act on
    it check ``reading.decided``.
    """
    if reading is None or not reading.faces:
        return None
    return mood_point(reading.probabilities, table)
