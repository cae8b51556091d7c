"""``moodbox check`` on image files and on a files: camera, through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from appliance.cli import main
from appliance.mood.reading import LABELS, NO_FACE, UNSURE

pytestmark = pytest.mark.runtime


def config_file(folder: Path, **camera: object) -> Path:
    path = folder / "moodbox.toml"
    lines = ["[gpio]", 'pin_factory = "mock"', "[camera]", "warmup_s = 0.0"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in camera.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_gives_one_object_per_image(photo_paths: dict, tmp_path: Path, mock_pins: object,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(photo_paths["astronaut"]), str(photo_paths["grace_hopper"])]
    assert main(["check", *paths, "--json", "--config", str(config_file(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["image"] for r in results] == paths
    for r in results:
        (face,) = r["faces"]
        assert set(face) - {"listener"} == {"box", "score", "emotion", "probabilities"}
        assert len(face["box"]) == 4 and face["score"] >= 0.75
        assert list(face["probabilities"]) == list(LABELS)
        assert r["emotion"] in (*LABELS, UNSURE) and 0 < r["confidence"] <= 1
    astronaut = results[0]["faces"][0]["probabilities"]
    assert max(astronaut, key=astronaut.__getitem__) == "happy" or astronaut["happy"] > 0.4


def test_unreadable_images_are_one_line_each_and_the_rest_still_checked(
    photo_paths: dict, non_face_photos: dict, tmp_path: Path, mock_pins: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(photo_paths["grace_hopper"].read_bytes()[:300])
    missing = tmp_path / "missing.png"
    args = ["check", str(corrupt), str(photo_paths["camera"]), str(missing), "--json",
            "--config", str(config_file(tmp_path))]
    assert main(args) == 1
    out, err = capsys.readouterr()
    (result,) = [json.loads(line) for line in out.splitlines()]
    assert result["image"] == str(photo_paths["camera"]) and len(result["faces"]) == 1
    errors = [line for line in err.splitlines() if line.startswith("moodbox check:")]
    assert len(errors) == 2
    assert str(corrupt) in errors[0] and "decode" in errors[0]
    assert str(missing) in errors[1] and "No such file" in errors[1]


def test_plain_output_and_an_image_without_a_face(tmp_path: Path, mock_pins: object,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import cv2
    import numpy as np

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 200, np.uint8))
    assert main(["check", str(blank), "--config", str(config_file(tmp_path))]) == 0
    assert capsys.readouterr().out.strip() == f"{blank}: {NO_FACE} (0.00), no face"


def test_camera_check_on_a_files_camera(photo_paths: dict, tmp_path: Path, mock_pins: object,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "a.png").write_bytes(photo_paths["astronaut"].read_bytes())
    config = config_file(tmp_path, frames=4)
    assert main(["check", "--camera", f"files:{pics}", "--json", "--config", str(config)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["camera"] == f"files:{pics}" and r["frames"] == 4 and r["frame_faces"] == 4
    assert r["faces"] == 1  # three photos with a face near one place: followed as one person
    assert list(r["probabilities"]) == list(LABELS)
    states = [s.state for s in mock_pins.pin(27).states]  # type: ignore[attr-defined]
    assert states == [False, True, False]


def test_camera_errors_are_one_line(tmp_path: Path, mock_pins: object,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = str(config_file(tmp_path))
    assert main(["check", "--camera", f"files:{tmp_path / 'none'}", "--config", config]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("moodbox check: camera files:") and "cannot list" in err[-1]
    assert main(["check", "--camera", "webcam", "--config", config]) == 2
    assert "camera source 'webcam' is not known" in capsys.readouterr().err


def test_a_large_room_photo_names_the_listener_and_show_writes_a_png(
    photos: dict, tmp_path: Path, mock_pins: object, capsys: pytest.CaptureFixture
) -> None:
    import cv2
    from test_mood_listener import room

    frame = room((photos["astronaut"], "astronaut", 114.0, (1152, 600)),  # 2.5 m, central
                 (photos["grace_hopper"], "grace_hopper", 100.0, (400, 500)))
    image, shown = tmp_path / "room.jpg", tmp_path / "shown.png"
    assert cv2.imwrite(str(image), frame)
    args = ["check", str(image), "--json", "--show", str(shown),
            "--config", str(config_file(tmp_path))]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    (listener,) = [f for f in result["faces"] if f.get("listener")]
    assert abs(listener["box"][0] + listener["box"][2] / 2 - 1152) < 60
    assert result["people"] == 2 and len(result["faces"]) == 2
    assert result["emotion"] == listener["emotion"] == "happy"
    assert -1 <= result["valence"] <= 1 and -1 <= result["arousal"] <= 1
    drawn = cv2.imread(str(shown))
    assert drawn.shape == frame.shape and np.abs(drawn.astype(int) - frame).sum() > 0
