"""``moodbox doctor``'s checks: one line each, OK or FAIL with the fix, in plain words.

Each check takes the effective ``Config`` and returns a ``Result``, or raises: a ``Problem``
carries its own fix, any other error becomes a FAIL with the check's usual fix. The checks
run in dependency order (software first, then the devices, then the data and the service),
and one check failing never stops the others. The device checks live in
``appliance.doctor.hardware``.
"""

from __future__ import annotations

import grp
import os
import platform
import pwd
import sqlite3
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from appliance.config import Config
from appliance.doctor.results import (  # noqa: F401 (the checks' public vocabulary)
    FAIL,
    OK,
    SKIP,
    STOP_FIRST,
    Check,
    Problem,
    Result,
    run_checks,
)
from appliance.errors import LibraryError

#: Where install.sh puts the unit, and the user and groups it gives the service.
UNIT_PATH = Path("/etc/systemd/system/moodbox.service")
SERVICE_USER = "moodbox"
SERVICE_GROUPS = ("video", "audio", "gpio")
def all_checks() -> list[tuple[str, Check, str]]:
    """Every check ``moodbox doctor`` runs, in order, with its usual fix."""
    from appliance.doctor import hardware as doctor_hw

    reinstall = "reinstall: sudo scripts/install.sh"
    return [
        ("python", check_python, "use Raspberry Pi OS (64-bit) Bookworm or Trixie"),
        ("numpy", check_numpy_opencv, reinstall),
        ("model", check_model, reinstall),
        ("valence", check_valence, reinstall),
        ("camera", doctor_hw.check_camera, doctor_hw.CAMERA_FIX),
        ("pins", doctor_hw.check_pins, doctor_hw.PINS_FIX),
        ("audio", doctor_hw.check_audio, doctor_hw.AUDIO_FIX),
        ("music", check_music, "check library.music_dir and the folder's permissions"),
        ("database", check_database, "move the file aside; the service rebuilds it at start"),
        ("service", check_service, reinstall),
    ]


def check_python(config: Config) -> Result:
    """Python version, word size, OS and CPU."""
    bits = struct.calcsize("P") * 8
    version = platform.python_version()
    detail = f"Python {version} ({bits}-bit) on {_os_name()}, {platform.machine()}"
    if bits == 32:
        raise Problem(f"{detail}: 32-bit is not supported (no OpenCV wheel for 32-bit ARM, "
                      "no TFLite runtime for it with Python 3.12+)",
                      "install Raspberry Pi OS (64-bit)")
    return Result("python", OK, detail)


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.partition("=")[2].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def check_numpy_opencv(config: Config) -> Result:
    """numpy and OpenCV import, work together, and suit the TFLite runtime."""
    import cv2

    from appliance.mood import runtime

    grey = cv2.cvtColor(np.zeros((4, 4, 3), np.uint8), cv2.COLOR_BGR2GRAY)
    if grey.shape != (4, 4):
        raise Problem(f"OpenCV {cv2.__version__} gave a wrong result", "reinstall")
    detail = f"numpy {np.__version__}, OpenCV {cv2.__version__}"
    name = runtime.runtime_name()
    if name.startswith("tflite-runtime") and int(np.__version__.split(".")[0]) >= 2:
        raise Problem(
            f"{detail}: {name} crashes under numpy 2",
            "pip install 'numpy<2' 'opencv-python-headless<4.12' in the venv, or reinstall",
        )
    return Result("numpy", OK, detail)


def check_model(config: Config) -> Result:
    """The TFLite runtime loads both models and the emotion model gives its reference answer."""
    from appliance.mood import runtime
    from appliance.mood.classifier import EmotionClassifier
    from appliance.mood.faces import FaceDetector
    from appliance.mood.reference import (
        decisive,
        recorded_reference,
        reference_faces,
        reference_problem,
    )

    classifier = EmotionClassifier(config.mood.model, num_threads=1)
    detector = FaceDetector(min_score=config.mood.min_face_score, num_threads=1)
    if detector.detect(np.zeros((480, 640, 3), np.uint8)):
        raise Problem("the face detector sees a face in a black frame", "reinstall")
    path = classifier.model_path
    recorded = recorded_reference(path.with_suffix(".json"))
    head = f"{runtime.runtime_name()}, {path.name} and the face detector load"
    if recorded is None:
        return Result("model", OK, f"{head} (no reference answer recorded for this model)")
    expected, tolerance = recorded
    # Through the classifier itself, so the check covers the kernels the daemon runs on.
    got = np.array([classifier.raw_output(face) for face in reference_faces()])
    problem, diff = reference_problem(got, expected, tolerance)
    if problem:
        raise Problem(
            f"{head}, but its answers on the reference images differ from the recorded ones: "
            f"{problem}",
            "reinstall; if it persists the runtime is broken on this CPU",
        )
    pinned = int(decisive(expected, tolerance).sum())
    return Result("model", OK, f"{head}; reference answer matched ({len(got)} images, max "
                  f"difference {diff} of {tolerance} steps allowed, the same top class on the "
                  f"{pinned} that lead by more than {2 * tolerance})")


def check_valence(config: Config) -> Result:
    """The valence estimator's model and the music tagger it names load (digest checked)."""
    from appliance.music.estimate import ValenceEstimator

    estimator = ValenceEstimator()
    try:
        tagger = estimator.tagger_path.name
    finally:
        estimator.close()  # the tagger's interpreter is about 100 MiB
    return Result("valence", OK, f"{estimator.path.name} ({estimator.version}) and {tagger} "
                  "load: tracks without tags get valence and energy estimated from their audio")


def check_music(config: Config) -> Result:
    """The music folder is readable; N audio files, and the library's count with valence."""
    from appliance.music.library import Library
    from appliance.music.walk import find_audio

    folder = config.library.music_dir
    if not folder.is_dir() or not os.access(folder, os.R_OK | os.X_OK):
        raise Problem(f"{folder} is missing or not readable",
                      f"create it and copy music in: sudo install -d -o {SERVICE_USER} {folder}")
    problems: list[str] = []
    files = sum(1 for _ in find_audio(folder, problems))
    if files == 0:
        raise Problem(f"no audio files in {folder}",
                      "copy music in (mp3, flac, ogg, opus, m4a or wav)")
    detail = f"{files} audio file(s) in {folder}"
    if problems:
        detail += f" ({len(problems)} folder(s) unreadable: {problems[0]})"
    if config.library.database.exists():
        try:
            with Library(config.library.database) as library:
                tracks = library.tracks()
        except LibraryError as exc:
            # A member of the moodbox group may read but not open the WAL database for writing.
            hint = "" if _whoami() == SERVICE_USER else (
                f"; for the counts run: sudo -u {SERVICE_USER} moodbox doctor")
            return Result("music", OK, f"{detail}; library not counted ({exc}){hint}")
        with_valence = sum(1 for t in tracks if t.valence is not None)
        detail += f"; {len(tracks)} playable in the library, {with_valence} with valence"
    return Result("music", OK, detail)


def _whoami() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def check_database(config: Config) -> Result:
    """The library database exists and SQLite's integrity check passes."""
    path = config.library.database
    if not path.exists():
        raise Problem(f"{path} does not exist yet",
                      "start the service (sudo systemctl start moodbox) or run: "
                      "sudo -u moodbox moodbox library scan")
    # Read-only, so the check changes nothing. A WAL database with no -wal file (no writer
    # since the last clean close) cannot be opened read-only by a user who may not create
    # one; immutable=1 reads it all then. With a -wal file, mode=ro sees the latest commits.
    wal = path.with_name(path.name + "-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
    try:
        verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise Problem(f"{path}: {exc}", "move the file aside; the service rebuilds it") from exc
    finally:
        connection.close()
    if verdict != ["ok"] or "tracks" not in tables:
        raise Problem(f"{path}: integrity check says {'; '.join(verdict)[:200]}",
                      "move the file aside; the service rebuilds it at start")
    return Result("database", OK, f"{path}: integrity check ok")


def check_service(
    config: Config, unit: Path = UNIT_PATH, user: str = SERVICE_USER,
    groups: Sequence[str] = SERVICE_GROUPS,
) -> Result:
    """The unit is installed, its program exists, and its user is in the device groups."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if not unit.exists():
            return Result("service", SKIP, f"not installed as a service (no {unit}); "
                          "sudo scripts/install.sh installs it")
        raise Problem(f"{unit} is installed but user {user} is missing",
                      "run sudo scripts/install.sh again") from None
    member_of = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    member_of.add(grp.getgrgid(entry.pw_gid).gr_name)
    missing = [g for g in groups if g not in member_of]
    if missing:
        raise Problem(f"user {user} is not in group(s) {', '.join(missing)}",
                      f"sudo usermod -aG {','.join(groups)} {user}")
    if not unit.exists():
        raise Problem(f"user {user} exists but {unit} is missing", "sudo scripts/install.sh")
    program = _exec_start(unit)
    if program is None or not os.access(program, os.X_OK):
        raise Problem(f"{unit}: ExecStart program {program} is missing", "sudo scripts/install.sh")
    return Result("service", OK, f"user {user} in {', '.join(groups)}; {unit} runs {program}")


def _exec_start(unit: Path) -> str | None:
    try:
        lines = unit.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("ExecStart="):
            return line.partition("=")[2].split()[0].lstrip("-@:+!")
    return None
