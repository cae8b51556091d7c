"""Audio playback over the system's libvlc (python-vlc); the only module that imports ``vlc``.

One ``vlc.Instance`` and one media player for the daemon's lifetime: one output stream, so a
``hw:`` ALSA device that only one client may open works, and the output stays open between
tracks. Each track's ``vlc.Media`` gets its own event handler that knows the track's *token*,
so news about a track already replaced is recognised as stale.

VLC calls its event handlers on its own threads, and calling libvlc from inside one deadlocks
the player, so the handlers only post a ``PlayerEvent`` through the callback they were given;
the daemon's thread does the rest. Measured with libvlc 3.0: a missing file gives ``Error``
then ``Ended`` although ``play()`` returned 0; a corrupt file gives ``Playing`` then ``Ended``
within ~10 ms with length 0 (the daemon treats both as skipped); but a file that starts with
a zlib header asking for a preset dictionary (3 of 3000 random fills) makes VLC 3.0's inflate
stream filter spin for good with no event at all (the daemon's start deadline gives it up).
Restarting the player from the daemon's thread on ``Ended`` leaves a gap of about 0.1 s between
tracks on an output that drains like ALSA does (measured by ``scripts/bench_daemon.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.daemon.events import PlayerEvent
from appliance.errors import PlaybackError

try:
    import vlc
except (ImportError, NotImplementedError, OSError) as exc:  # no libvlc: NotImplementedError
    vlc = None
    _VLC_MISSING = str(exc) or type(exc).__name__
else:
    _VLC_MISSING = ""

log = logging.getLogger(__name__)

#: ``audio.output`` to VLC's ``--aout`` module. Tests check fades on ALSA's ``null`` device: it
#: needs no sound card and, unlike adummy, reads the volume back.
AOUT_MODULES = {"alsa": "alsa", "pulse": "pulse", "dummy": "adummy"}
#: Local files need little read-ahead; it also bounds how early VLC reports a track's end.
DEFAULT_CACHING_MS = 300
_FADE_STEP_S = 0.05
# libvlc_state_t values of a Media, as MediaStateChanged reports them.
_MEDIA_STATES = {3: "playing", 6: "ended", 7: "error"}

Post = Callable[[object], None]


class VlcPlayer:
    """Plays one track at a time; the daemon's thread alone calls its methods.

    Args:
        post: called with a ``PlayerEvent`` from VLC's threads; must only enqueue.
        output: ``"alsa"``, ``"pulse"`` or ``"dummy"``.
        device: the output's device name (``aplay -L`` for ALSA); ``""`` = its default.
        volume: 0..100, restored at each new track after a fade.
        caching_ms: VLC's ``--file-caching``.

    Raises:
        PlaybackError: libvlc is missing or its instance cannot be created.
    """

    def __init__(
        self,
        post: Post,
        output: str = "dummy",
        device: str = "",
        volume: int = 80,
        caching_ms: int = DEFAULT_CACHING_MS,
    ) -> None:
        if vlc is None:
            raise PlaybackError(
                f"libvlc is not usable ({_VLC_MISSING}); install libvlc5 libvlc-bin "
                "vlc-plugin-base"
            )
        if output not in AOUT_MODULES:
            raise PlaybackError(f"unknown audio output {output!r}; use alsa, pulse or dummy")
        self._post = post
        self.output, self.device, self.volume = output, device, volume
        args = ["--no-video", "--intf=dummy", "--quiet", "--no-xlib",
                f"--aout={AOUT_MODULES[output]}", f"--file-caching={caching_ms}"]
        if output == "alsa" and device:
            args.append(f"--alsa-audio-device={device}")
        self._instance: Any = vlc.Instance(args)
        if self._instance is None:
            raise PlaybackError("libvlc could not start (is libvlc-bin with its plugins there?)")
        self._player: Any = self._instance.media_player_new()
        if output == "pulse" and device:
            self._player.audio_output_device_set(None, device)
        self._token = 0
        self._media: Any = None
        self._prepared: tuple[str, Any] | None = None
        self._faded = False
        self._lock = threading.Lock()

    def prepare(self, path: str) -> None:
        """Open and parse the next track ahead of time so that ``play`` starts it at once."""
        # As bytes: a file name that is not valid UTF-8 cannot be encoded as text for VLC.
        media = self._instance.media_new_path(os.fsencode(path))
        media.parse_with_options(vlc.MediaParseFlag.local, 2000)
        self._prepared = (path, media)

    def play(self, path: str) -> int:
        """Stop what is playing and start ``path`` now, at the configured volume.

        Returns:
            The token that this track's ``PlayerEvent``s carry.
        """
        prepared, self._prepared = self._prepared, None
        media = prepared[1] if prepared and prepared[0] == path else None
        if media is None:
            media = self._instance.media_new_path(os.fsencode(path))
        self._token += 1
        token = self._token
        handler = _media_handler(self._post, token)
        media.event_manager().event_attach(vlc.EventType.MediaStateChanged, handler)
        self._player.set_media(media)
        self._media = media
        if self._player.play() != 0:
            raise PlaybackError(f"VLC refused to play {path}")
        # The output survives a media change, so this also undoes a fade (see stop()).
        self._player.audio_set_volume(self.volume)
        self._faded = False
        return token

    @property
    def token(self) -> int:
        """The token of the track started last."""
        return self._token

    def fade_out(self, seconds: float) -> None:
        """Lower the volume to 0 over ``seconds`` (blocking); then ``play`` the next track,
        which restores the volume, or ``stop``."""
        steps = int(seconds / _FADE_STEP_S)
        if steps <= 0 or not self.is_playing():
            return
        self._faded = True
        for i in range(steps - 1, -1, -1):
            self._player.audio_set_volume(round(self.volume * i / steps))
            time.sleep(_FADE_STEP_S)

    def set_fade(self, fraction: float) -> None:
        """One step of a fade driven by the daemon's timers: the volume becomes ``fraction``
        (0..1) of the configured one; the next ``play`` restores it."""
        self._faded = fraction < 1.0
        self._player.audio_set_volume(round(self.volume * max(0.0, min(1.0, fraction))))

    def get_volume(self) -> int:
        """VLC's current volume (reads back only on alsa, pulse and amem; adummy says 0)."""
        return int(self._player.audio_get_volume())

    def pause(self) -> None:
        """Pause playback (no-op when nothing plays)."""
        self._player.set_pause(1)

    def resume(self) -> None:
        """Resume after ``pause``."""
        self._player.set_pause(0)

    def stop(self) -> None:
        """Stop playback; later events of the stopped track carry a stale token."""
        self._token += 1
        if self._faded:
            # stop() drops VLC's output and the next one inherits its volume, which a fade
            # left at 0; put it back while paused, so that nothing is heard at full volume.
            self._player.set_pause(1)
            self._player.audio_set_volume(self.volume)
            self._faded = False
        self._player.stop()

    def is_playing(self) -> bool:
        """True while a track is playing (not paused, not ended)."""
        return bool(self._player.is_playing())

    def position_s(self) -> float:
        """Seconds into the current track (VLC updates this in ~0.1 s steps)."""
        return max(0.0, self._player.get_time() / 1000)

    def length_s(self) -> float:
        """The current track's length in seconds; 0 when unknown or when it has no audio."""
        return max(0.0, self._player.get_length() / 1000)

    def close(self) -> None:
        """Stop and release VLC; idempotent."""
        with self._lock:
            if self._player is None:
                return
            self._player.stop()
            self._player.release()
            self._instance.release()
            self._player = self._instance = self._media = self._prepared = None

    def __enter__(self) -> VlcPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _media_handler(post: Post, token: int) -> Callable[[Any], None]:
    """A MediaStateChanged handler that only posts (calling libvlc here would deadlock)."""

    def handler(event: Any) -> None:
        kind = _MEDIA_STATES.get(int(event.u.new_state))
        if kind is not None:
            post(PlayerEvent(kind, token))

    return handler


# ---- checking that the audio output is there -------------------------------------------

_SND_PCM_STREAM_PLAYBACK = 0
_SND_PCM_NONBLOCK = 1
# void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
_ALSA_ERROR_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_silent_handler = _ALSA_ERROR_HANDLER(lambda *args: None)


def probe_output(output: str, device: str = "") -> None:
    """Check that the audio output can be opened now.

    VLC itself does not say when its output fails: it reports ``Playing`` and plays into
    nothing. So the daemon checks before it starts and while it waits for a device.

    Raises:
        PlaybackError: with a one-line reason naming the output and device.
    """
    if output == "alsa":
        _probe_alsa(device or "default")
    elif output == "pulse":
        _probe_pulse()
    elif output not in AOUT_MODULES:
        raise PlaybackError(f"unknown audio output {output!r}; use alsa, pulse or dummy")


def _probe_alsa(name: str) -> None:
    found = ctypes.util.find_library("asound")
    if found is None:
        raise PlaybackError("ALSA library libasound.so.2 not found; install libasound2")
    asound = ctypes.CDLL(found)
    # ALSA prints its own errors to stderr; the reason goes in our one line instead.
    asound.snd_lib_error_set_handler(_silent_handler)
    handle = ctypes.c_void_p()
    try:
        rc = asound.snd_pcm_open(
            ctypes.byref(handle), name.encode(), _SND_PCM_STREAM_PLAYBACK, _SND_PCM_NONBLOCK
        )
        if rc < 0:
            asound.snd_strerror.restype = ctypes.c_char_p
            why = asound.snd_strerror(rc).decode(errors="replace")
            raise PlaybackError(
                f"ALSA device {name!r} cannot be opened: {why} (check audio.device against "
                "`aplay -L`, and that the sound card is connected)"
            )
        asound.snd_pcm_close(handle)
    finally:
        asound.snd_lib_error_set_handler(None)


def _probe_pulse() -> None:
    server = os.environ.get("PULSE_SERVER", "")
    if server:
        return  # a remote or custom server: VLC will tell by failing to play
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    socket_path = Path(runtime, "pulse", "native")
    if not socket_path.exists():
        raise PlaybackError(
            f"no PulseAudio/PipeWire server at {socket_path}; use audio.output = \"alsa\" "
            "for a system service"
        )


def default_output() -> str:
    """The output to use on a desktop or laptop: pulse if a server runs, else alsa if its
    default device opens, else dummy (no sound card: the demo still runs, silently)."""
    for output in ("pulse", "alsa"):
        try:
            probe_output(output)
        except PlaybackError:
            continue
        return output
    return "dummy"
