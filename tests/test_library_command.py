"""``moodbox library scan|list|set|import`` through the real CLI, on real files and SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from audiofiles import make_track

from appliance.cli import main
from appliance.music.library import Library
from appliance.music.tags import read_tags


@pytest.fixture
def config(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    make_track(music / "calm.wav", "Calm", "Lake", 0.3, 0.1)
    make_track(music / "party.mp3", "Party", "Crowd", 0.9, 0.9)
    make_track(music / "Someone - Plain.wav")
    (music / "broken.flac").write_bytes(b"fLaC but not really")
    path = tmp_path / "moodbox.toml"
    path.write_text('[library]\nmusic_dir = "music"\ndatabase = "state/library.sqlite3"\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_reports_counts_progress_and_unreadable_files(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "library", "scan", "--config", str(config))
    assert code == 0
    assert out.startswith("4 audio files in ")
    assert "4 added, 0 updated, 0 unchanged, 0 removed" in out
    assert "1 unreadable (recorded and skipped):" in out and "broken.flac" in out
    assert "4/4 files (100%)" in err
    code, out, _ = run(capsys, "library", "scan", "--config", str(config))
    assert "0 added, 0 updated, 4 unchanged, 0 removed" in out


def test_list_shows_tracks_and_unplayable_files(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "library", "scan", "--config", str(config))
    code, out, err = run(capsys, "library", "list", "--config", str(config))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4 and lines[0].startswith("valence energy")
    by_name = {line.split("  ")[-2].strip(): line.split()[:3] for line in lines[1:]}
    assert by_name == {
        "Lake - Calm": ["0.30", "0.10", "0:00"],
        "Crowd - Party": ["0.90", "0.90", "0:01"],
        "Someone - Plain": ["-", "-", "0:00"],
    }
    assert "3 playable tracks, 1 without valence" in err
    code, out, _ = run(capsys, "library", "list", "--unplayable", "--config", str(config))
    assert out.count("\n") == 1 and "broken.flac: " in out


def test_set_stores_values_and_optionally_writes_the_file(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "library", "scan", "--config", str(config))
    plain = config.parent / "music" / "Someone - Plain.wav"
    code, out, _ = run(capsys, "library", "set", str(plain), "--valence", "0.6",
                       "--config", str(config))
    assert code == 0 and "valence 0.6, energy None" in out
    assert read_tags(plain).valence is None
    code, out, _ = run(capsys, "library", "set", str(plain), "--energy", "0.4", "--write",
                       "--config", str(config))
    assert code == 0 and "valence 0.6, energy 0.4 (written into the file too)" in out
    assert read_tags(plain).energy == 0.4
    with Library(config.parent / "state" / "library.sqlite3") as library:
        track = library.get(plain)
    assert track is not None and (track.valence, track.energy) == (0.6, 0.4)


def test_set_refuses_bad_input(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "library", "scan", "--config", str(config))
    with pytest.raises(SystemExit) as caught:
        main(["library", "set", "x.wav", "--valence", "1.5", "--config", str(config)])
    assert caught.value.code == 2
    assert "must be a number from 0 to 1, not '1.5'" in capsys.readouterr().err
    code, _, err = run(capsys, "library", "set", "x.wav", "--config", str(config))
    assert code == 2 and "give --valence and/or --energy" in err
    code, _, err = run(capsys, "library", "set", "nope.wav", "--valence", "0.5",
                       "--config", str(config))
    assert code == 1 and "nope.wav: no such file" in err


def test_import_reports_matched_ambiguous_and_unmatched(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "library", "scan", "--config", str(config))
    csv_path = config.parent / "liked.csv"
    csv_path.write_text(
        "Track Name,Artist Name(s),Valence,Energy\n"
        "Calm - 2020 Remaster,Lake,0.25,0.15\n"
        "Storm,Lake,0.5,0.5\n"
        "Party,Crowd,2,0.5\n"
    )
    code, out, _ = run(capsys, "library", "import", str(csv_path), "--dry-run",
                       "--config", str(config))
    assert code == 0 and "1 matched: valence and energy would be set (dry run)" in out
    code, out, _ = run(capsys, "library", "import", str(csv_path), "--config", str(config))
    assert "1 matched: valence and energy set" in out
    assert "line 2: Lake - Calm - 2020 Remaster -> " in out
    assert "0 ambiguous" in out
    assert "1 unmatched (no local file with that artist and title):\n  line 3: Lake - Storm" in out
    assert "1 invalid rows skipped:\n  line 4: Valence and Energy must be numbers" in out


def test_failures_exit_non_zero_with_one_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.toml"
    missing.write_text('[library]\nmusic_dir = "nowhere"\ndatabase = "db.sqlite3"\n')
    code, _, err = run(capsys, "library", "scan", "--config", str(missing))
    assert code == 1 and "music folder not found or not readable" in err
    code, _, err = run(capsys, "library", "import", "absent.csv", "--config", str(config))
    assert code == 1 and "cannot read the CSV" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[library]\nmusic_dri = 1\n")
    with pytest.raises(SystemExit) as caught:
        main(["library", "list", "--config", str(bad)])
    assert caught.value.code == 2
    assert "did you mean library.music_dir?" in capsys.readouterr().err


def test_scan_of_a_missing_folder_creates_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "moodbox.toml"
    path.write_text('[library]\nmusic_dir = "nowhere"\ndatabase = "state/library.sqlite3"\n')
    code, _out, err = run(capsys, "library", "scan", "--config", str(path))
    assert code == 1
    assert err.strip().splitlines() == [
        f"moodbox: {tmp_path / 'nowhere'}: music folder not found or not readable "
        "(library.music_dir)"]
    assert not (tmp_path / "state").exists()


def test_set_on_a_missing_file_says_it_is_missing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "library", "scan", "--config", str(config))
    gone = tmp_path / "music" / "gone.mp3"
    code, _out, err = run(capsys, "library", "set", str(gone), "--valence", "0.5",
                         "--config", str(config))
    assert code == 1
    assert err.strip() == f"moodbox: {gone}: no such file"


def test_warnings_during_a_scan_start_on_their_own_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from appliance.commands.library import ProgressLine

    progress = ProgressLine()
    handler = logging.StreamHandler()  # sys.stderr as captured now
    handler.addFilter(progress)
    log = logging.getLogger("test.progress")
    log.addHandler(handler)
    log.propagate = False
    try:
        progress(1, 4, "a.mp3")
        log.warning("something odd")
        progress(4, 4, "d.mp3")
        progress.end()
    finally:
        log.removeHandler(handler)
    err = capsys.readouterr().err
    assert "\r  1/4 files (25%)\nsomething odd\n\r  4/4 files (100%)\n" in err


def test_each_unreadable_file_is_reported_once(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "library", "scan", "--config", str(config))
    assert code == 0
    assert (out + err).count("broken.flac") == 1
