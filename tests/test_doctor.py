"""``moodbox doctor`` on simulated hardware: a files: camera with a public-domain face photo,
gpiozero's MockFactory, VLC's dummy output, a tiny real music folder and SQLite database."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from audiofiles import make_track
from modelcopy import model_copy, shipped_contract

from appliance.cli import main
from appliance.config import Config, load_config
from appliance.doctor import checks as doctor
from appliance.doctor import hardware as doctor_hw
from appliance.music.library import Library


@pytest.fixture(autouse=True)
def mock_pins() -> Iterator[None]:
    yield
    from gpiozero import Device

    if Device.pin_factory is not None:
        Device.pin_factory.reset()


def write_config(folder: Path, **sections: dict[str, object]) -> Path:
    """A config file for simulated hardware in ``folder``; ``sections`` override keys."""
    pics = folder / "pics"
    pics.mkdir(exist_ok=True)
    # NASA's photo of Eileen Collins (public domain), shipped inside scikit-image.
    shutil.copyfile(Path(skimage.data.__file__).parent / "astronaut.png", pics / "face.png")
    base: dict[str, dict[str, object]] = {
        "library": {"music_dir": "music", "database": "library.sqlite3"},
        "camera": {"source": f"files:{pics}", "warmup_s": 0.0},
        "gpio": {"pin_factory": "mock"},
        "audio": {"output": "dummy"},
        "daemon": {"state_file": "state.json"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / "moodbox.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_library(folder: Path) -> None:
    make_track(folder / "music" / "calm.wav", "Calm", "Tests", valence=0.7, energy=0.3)
    make_track(folder / "music" / "sub" / "tone.ogg")
    make_track(folder / "music" / "untagged.wav", "Untagged", "Tests")
    with Library(folder / "library.sqlite3") as library:
        library.scan(folder / "music")


@pytest.fixture
def box(tmp_path: Path) -> Config:
    tiny_library(tmp_path)
    return load_config(write_config(tmp_path))


def by_name(config: Config) -> dict[str, doctor.Result]:
    return {r.name: r for r in doctor.run_checks(config, doctor.all_checks())}


def test_all_ok_on_simulated_hardware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny_library(tmp_path)
    assert main(["doctor", "--config", str(write_config(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(doctor.all_checks()) + 1
    for line in lines[:-1]:
        assert line.startswith(("OK  ", "SKIP")), line
    assert lines[-1].startswith("all ")
    text = "\n".join(lines)
    assert "reference answer matched (12 images" in text and "the same top class on the 8" in text
    assert "512x512 frame grabbed" in text and "1 face(s) in view" in text
    assert "3 audio file(s)" in text and "3 playable in the library, 2 with valence" in text
    assert "integrity check ok" in text


def test_led_is_lit_exactly_while_the_camera_grabs(box: Config) -> None:
    from gpiozero import Device

    result = doctor_hw.check_camera(box)
    assert result.status == doctor.OK
    states = [s.state for s in Device.pin_factory.pin(27).states]
    assert states[-2:] == [True, False]


def test_failures_name_the_problem_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "library.sqlite3").write_bytes(b"not a database, " * 64)
    config = write_config(
        tmp_path,
        camera={"source": f"files:{tmp_path / 'empty'}"},
        audio={"output": "alsa", "device": "hw:CARD=NoSuchCard"},
    )
    assert main(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[1]: line for line in out.splitlines()[:-1]}
    for name in ("camera", "audio", "music", "database"):
        assert lines[name].startswith("FAIL") and "; fix: " in lines[name], lines[name]
    assert "NoSuchCard" in lines["audio"] and "aplay -L" in lines["audio"]
    assert "music is missing" in lines["music"]
    assert lines["pins"].startswith("OK")
    assert out.splitlines()[-1].startswith("4 of 10 checks failed: camera, audio, music, database")


def test_busy_pin_fails(box: Config) -> None:
    from gpiozero import Button

    from appliance.hw.led import pin_factory

    with Button(17, pin_factory=pin_factory("mock")):
        (result,) = doctor.run_checks(box, [("pins", doctor_hw.check_pins, "")])
    assert result.status == doctor.FAIL
    assert "GPIO17" in result.detail and "systemctl stop moodbox" in result.fix


def test_empty_music_folder_fails(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    config = load_config(write_config(tmp_path))
    (result,) = doctor.run_checks(config, [("music", doctor.check_music, "")])
    assert result.status == doctor.FAIL and "no audio files" in result.detail


def test_model_with_a_wrong_reference_fails(tmp_path: Path, box: Config) -> None:
    contract = shipped_contract()
    contract["reference"]["int8_outputs"][0][0] += 5
    model_copy(tmp_path, contract)
    config = load_config(write_config(tmp_path, mood={"model": str(tmp_path / "emotion.tflite")}))
    result = by_name(config)["model"]
    assert result.status == doctor.FAIL
    assert "outputs differ by up to" in result.detail and "(3 allowed)" in result.detail


def test_model_without_recorded_answers_loads_and_says_so(tmp_path: Path, box: Config) -> None:
    contract = shipped_contract()
    del contract["reference"]["int8_outputs"]
    model_copy(tmp_path, contract)
    config = load_config(write_config(tmp_path, mood={"model": str(tmp_path / "emotion.tflite")}))
    result = by_name(config)["model"]
    assert result.status == doctor.OK
    assert "(no reference answer recorded for this model)" in result.detail


def test_model_passes_with_answers_two_steps_away_as_on_aarch64(tmp_path: Path,
                                                               box: Config) -> None:
    # ai-edge-litert's built-in kernels on aarch64 answer up to 2 steps from the x86
    # recording (issue 12); that box is fine, and the check says how far it was.
    contract = shipped_contract()
    model_copy(tmp_path, contract)
    from appliance.mood.classifier import EmotionClassifier
    from appliance.mood.reference import reference_faces

    classifier = EmotionClassifier(tmp_path / "emotion.tflite")
    here = [classifier.raw_output(face).astype(int) for face in reference_faces()]
    for row in here:  # what another CPU might give: non-top outputs 2 steps lower
        top = int(row.argmax())
        row[[i for i in range(len(row)) if i != top]] -= 2
    contract["reference"]["int8_outputs"] = [[int(v) for v in row] for row in here]
    (tmp_path / "emotion.json").write_text(json.dumps(contract))
    config = load_config(write_config(tmp_path, mood={"model": str(tmp_path / "emotion.tflite")}))
    result = by_name(config)["model"]
    assert result.status == doctor.OK, result.detail
    assert "max difference 2 of 3 steps allowed, the same top class on the" in result.detail


def test_reference_problem_wants_the_top_class_and_the_tolerance() -> None:
    import numpy as np

    from appliance.mood.reference import reference_problem

    want = np.array([[10, 0, -5], [0, 20, 3]])
    assert reference_problem(want + 3, want, 3) == ("", 3)
    assert reference_problem(want + np.array([0, 4, 0]), want, 3)[0] == \
        "outputs differ by up to 4 steps (3 allowed)"
    swapped = want.copy()
    swapped[0] = [0, 10, -5]
    assert reference_problem(swapped, want, 3)[0] == "the top class differs on 1 of 2 images"
    # A close call (margin 1, not above twice the tolerance) may tip within the tolerance.
    close = np.array([[5, 4, 0], [0, 20, 3]])
    tipped = np.array([[4, 5, 0], [0, 20, 3]])
    assert reference_problem(tipped, close, 3) == ("", 1)
    assert reference_problem(tipped, close, 0)[0] == "the top class differs on 1 of 2 images"
    assert reference_problem(want[:1], want)[0].startswith("(1, 3) outputs")


def test_missing_model_fails(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, mood={"model": str(tmp_path / "nope.tflite")}))
    result = by_name(config)["model"]
    assert result.status == doctor.FAIL and "nope" in result.detail


def test_valence_passes_with_the_shipped_files_and_fails_for_another_tagger(
        tmp_path: Path, box: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.music import estimate

    result = by_name(box)["valence"]
    assert result.status == doctor.OK, result.detail
    assert "valence.json (valence-4q-" in result.detail and "musicnn-msd.tflite" in result.detail
    spec = json.loads(estimate.DEFAULT_MODEL.read_text())
    spec["tagger"]["sha256"] = "0" * 64
    (tmp_path / "valence.json").write_text(json.dumps(spec))
    monkeypatch.setattr(estimate, "DEFAULT_MODEL", tmp_path / "valence.json")
    result = by_name(box)["valence"]
    assert result.status == doctor.FAIL and "not the expected model file" in result.detail


def test_service_skipped_when_not_installed(tmp_path: Path, box: Config) -> None:
    result = doctor.check_service(box, unit=tmp_path / "none.service", user="moodbox-no-such")
    assert result.status == doctor.SKIP


def test_service_without_its_user_fails(tmp_path: Path, box: Config) -> None:
    unit = tmp_path / "moodbox.service"
    unit.write_text(f"[Service]\nExecStart={sys.executable} run\n")
    with pytest.raises(doctor.Problem, match="user moodbox-no-such is missing"):
        doctor.check_service(box, unit=unit, user="moodbox-no-such")


def test_service_user_groups(tmp_path: Path, box: Config) -> None:
    me = pwd.getpwuid(os.getuid())
    own_group = grp.getgrgid(me.pw_gid).gr_name
    unit = tmp_path / "moodbox.service"
    unit.write_text(f"[Unit]\nDescription=x\n[Service]\nExecStart={sys.executable} run\n")
    ok = doctor.check_service(box, unit=unit, user=me.pw_name, groups=(own_group,))
    assert ok.status == doctor.OK and sys.executable in ok.detail
    with pytest.raises(doctor.Problem, match="not in group") as caught:
        doctor.check_service(box, unit=unit, user=me.pw_name, groups=("moodbox-no-such-group",))
    assert "usermod -aG" in caught.value.fix
    unit.write_text("[Service]\nExecStart=/nonexistent/moodbox run\n")
    with pytest.raises(doctor.Problem, match="missing"):
        doctor.check_service(box, unit=unit, user=me.pw_name, groups=(own_group,))


def test_an_unexpected_error_is_a_fail_line_not_a_crash(box: Config) -> None:
    def broken(config: Config) -> doctor.Result:
        raise KeyError("surprise")

    (result,) = doctor.run_checks(box, [("broken", broken, "the usual fix")])
    assert result == doctor.Result("broken", doctor.FAIL, "'surprise'", "the usual fix")
    assert result.line() == "FAIL  broken    'surprise'; fix: the usual fix"


def test_database_check_while_the_service_holds_it_open(box: Config) -> None:
    # A writer keeps the -wal file: the check reads through it without writing anything.
    with Library(box.library.database) as library:
        library.set_tags(library.tracks()[0].path, valence=0.9, energy=0.9)
        wal = box.library.database.with_name(box.library.database.name + "-wal")
        assert wal.exists()
        before = wal.stat().st_size
        (result,) = doctor.run_checks(box, [("database", doctor.check_database, "")])
        assert wal.stat().st_size == before
    assert result.status == doctor.OK, result.line()


def test_missing_database_fails_with_how_to_make_it(tmp_path: Path) -> None:
    (tmp_path / "music").mkdir()
    config = load_config(write_config(tmp_path))
    (result,) = doctor.run_checks(config, [("database", doctor.check_database, "")])
    assert result.status == doctor.FAIL and "library scan" in result.fix
    assert not config.library.database.exists()


def test_32_bit_python_is_refused_on_any_os(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    monkeypatch.setattr(doctor, "struct", types.SimpleNamespace(calcsize=lambda fmt: 4))
    with pytest.raises(doctor.Problem, match="32-bit is not supported") as failed:
        doctor.check_python(None)  # type: ignore[arg-type]
    assert "64-bit" in failed.value.fix


def test_the_camera_check_counts_a_listener_across_the_room(tmp_path: Path) -> None:
    import cv2

    tiny_library(tmp_path)
    config = load_config(write_config(tmp_path))
    pics = tmp_path / "pics"
    photo = cv2.imread(str(pics / "face.png"))
    # The astronaut's face (94 px wide at 178, 81) at 114 px, a listener 2.5 m away in
    # Camera Module 3's full view, where plain short range on the whole frame sees nobody.
    scale = 114 / 94
    frame = np.full((1296, 2304, 3), 120, np.uint8)
    small = cv2.resize(photo, None, fx=scale, fy=scale)
    frame[500 : 500 + small.shape[0], 1400 : 1400 + small.shape[1]] = small
    (pics / "face.png").unlink()
    cv2.imwrite(str(pics / "room.png"), frame)
    result = doctor_hw.check_camera(config)
    assert "2304x1296 frame grabbed" in result.detail and "1 face(s) in view" in result.detail
