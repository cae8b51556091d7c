"""scripts/bench_distance.py: the ``config`` candidate is the appliance's own detector."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_distance  # noqa: E402

from appliance.config import parse_config  # noqa: E402
from appliance.mood.faces import FaceDetector  # noqa: E402

SETTINGS = ("model", "min_score", "tiles", "confirm_score", "refind_score", "near_pass",
            "whole_pass", "early_exit", "mirror", "near_score", "second_score")


def settings(detector: FaceDetector) -> dict[str, object]:
    return {name: getattr(detector, name) for name in SETTINGS}


def test_config_candidate_follows_the_config_and_matches_its_spelled_out_spec() -> None:
    mood = parse_config({}).mood
    config = bench_distance.make_candidate("config", min_score=0.5).detector
    assert config.tiles == mood.detect_tiles and config.mirror == mood.detect_mirror
    assert config.min_score == mood.min_face_score  # not the benchmark's --min-score
    spec = (f"{mood.detector}:{mood.detect_tiles}:{mood.min_face_score}:"
            f"{mood.min_candidate_score}:{mood.min_confirm_score}:::"
            f"{int(mood.detect_early_exit)}:{mood.min_refind_score}:{int(mood.detect_mirror)}:"
            f"{mood.min_near_score}:{mood.min_second_look_score}")
    spelled = bench_distance.make_candidate(spec, min_score=0.5).detector
    assert settings(config) == settings(spelled)
    assert bench_distance.make_candidate("short_range:0", 0.5).detector.tiles == 0
