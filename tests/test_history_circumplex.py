"""Mood as numbers: valence and arousal of a reading from the circumplex table in config."""

from __future__ import annotations

import pytest

from appliance.config import parse_config
from appliance.errors import ConfigError
from appliance.mood.circumplex import mood_point, reading_point
from appliance.mood.reading import LABELS, NO_FACE, UNSURE, MoodReading

TABLE = parse_config({}).mood.circumplex


def _one_hot(label: str) -> dict[str, float]:
    return {k: float(k == label) for k in LABELS}


def test_shipped_table_orders_the_emotions_as_the_issue_asks() -> None:
    point = {k: mood_point(_one_hot(k), TABLE) for k in LABELS}
    assert point["happy"] is not None and point["happy"][0] > 0.5
    assert point["neutral"] == (0.0, 0.0)
    for low in ("sad", "disgust", "angry", "fear"):
        assert point[low] is not None and point[low][0] < -0.3
    for hot in ("angry", "fear"):
        assert point[hot] is not None and point[hot][1] > 0.5


def test_point_is_the_probability_weighted_mean() -> None:
    probabilities = {"happy": 0.5, "neutral": 0.5}
    valence, arousal = mood_point(probabilities, TABLE) or (9, 9)
    assert valence == pytest.approx(0.4) and arousal == pytest.approx(0.25)
    # Unnormalised or partial probabilities are renormalised over the known classes.
    assert mood_point({"happy": 2.0, "elated": 5.0}, TABLE) == pytest.approx((0.8, 0.5))


def test_no_face_has_no_point_but_unsure_has_one() -> None:
    assert reading_point(None, TABLE) is None
    assert reading_point(MoodReading(NO_FACE, 0.0, {}, faces=0, frames=5), TABLE) is None
    unsure = MoodReading(UNSURE, 0.3, {"sad": 0.3, "neutral": 0.7}, faces=2, frames=5)
    assert reading_point(unsure, TABLE) == pytest.approx((-0.21, -0.12))
    assert mood_point({}, TABLE) is None


def test_table_values_are_checked() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"mood": {"circumplex": {"sad": {"valence": -2.0}}}})
    assert "mood.circumplex.sad.valence = -2.0: must be between -1 and 1" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config({"mood": {"circumplex": {"sad": 1}}})
    assert "must be { valence = .., arousal = .. }" in str(info.value)
