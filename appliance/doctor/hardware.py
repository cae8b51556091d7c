"""``moodbox doctor``'s device checks: camera, button and LED pins, audio output.

Each one opens the device the way the daemon would, uses it briefly, and closes it again,
so it fails while the running service holds the same device; the fix says so.
"""

from __future__ import annotations

import queue
import tempfile
import time
from pathlib import Path

import numpy as np

from appliance.config import Config
from appliance.demo import write_wav
from appliance.doctor.results import OK, STOP_FIRST, Problem, Result
from appliance.errors import ApplianceError
from appliance.hw.led import StatusLed

CAMERA_FIX = (
    "Pi camera: check the ribbon cable and `rpicam-hello --list-cameras`; a USB webcam: "
    'camera.source = "opencv:0"; ' + STOP_FIRST
)
PINS_FIX = (
    "check gpio.button_pin and camera.led_pin (BCM numbers) and that no other program "
    "uses them; " + STOP_FIRST
)
AUDIO_FIX = (
    "check audio.device against `aplay -L` and the speaker's cable; " + STOP_FIRST
)
#: The test tone: short and quiet.
TONE_S, TONE_HZ, TONE_RATE = 0.5, 440.0, 22050
#: How long the tone may take to play through before the output counts as stuck.
TONE_TIMEOUT_S = 10.0


def check_camera(config: Config) -> Result:
    """Opens the configured camera, grabs one frame (the LED lit meanwhile), closes it."""
    from appliance.hw.sources import open_camera

    cam = config.camera
    camera = open_camera(cam.source, warmup_s=cam.warmup_s)
    led = _led(config)
    try:
        with camera:
            led.on()
            frame = camera.capture()
    finally:
        led.off()
        led.close()
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise Problem(f"{cam.source} gave a {frame.dtype} frame of shape {frame.shape}",
                      "report this: a camera back-end returned a wrong frame")
    height, width = frame.shape[:2]
    return Result("camera", OK, f"{cam.source}: a {width}x{height} frame grabbed and the camera "
                  f"closed again; {_faces_in(frame, config)}")


def _led(config: Config) -> StatusLed:
    try:
        return StatusLed(config.camera.led_pin, config.gpio.pin_factory)
    except ApplianceError:
        return StatusLed(-1)  # the pins check reports it; the camera check goes on without


def _faces_in(frame: np.ndarray, config: Config) -> str:
    # Helps aim the camera; never a failure (nobody may be in front of it). The detector is
    # the mood check's own, so a listener across the room counts as they will in a check.
    from appliance.mood.reader import detector_from_config

    try:
        faces = detector_from_config(config).detect(frame)
    except ApplianceError:
        return "faces not counted (see the model check)"
    return f"{len(faces)} face(s) in view"


def check_pins(config: Config) -> Result:
    """Claims the button and LED pins through gpiozero, blinks nothing, lets them go."""
    from gpiozero import Button

    from appliance.hw.led import gpio_errors, pin_factory

    gpio = config.gpio
    try:
        factory = pin_factory(gpio.pin_factory)
        button = Button(gpio.button_pin, pull_up=True, pin_factory=factory)
    except gpio_errors() as exc:
        raise Problem(f"button GPIO{gpio.button_pin}: {type(exc).__name__}: {exc}",
                      PINS_FIX) from exc
    try:
        pressed = button.is_pressed
        with StatusLed(config.camera.led_pin, gpio.pin_factory) as led:
            led.on()
            led.off()
    finally:
        button.close()
    led_text = "no LED (camera.led_pin = -1)" if config.camera.led_pin < 0 else (
        f"LED GPIO{config.camera.led_pin}")
    state = " (the button reads as pressed: stuck, or wired to 3.3 V?)" if pressed else ""
    return Result("pins", OK, f"button GPIO{gpio.button_pin} and {led_text} claimed and "
                  f"released{state}")


def check_audio(config: Config) -> Result:
    """Opens the audio output and plays a short quiet tone through it to the end."""
    from appliance.music.player import VlcPlayer, probe_output

    audio = config.audio
    probe_output(audio.output, audio.device)
    events: queue.Queue[object] = queue.Queue()
    name = f"{audio.output} {audio.device or 'default'}"
    with tempfile.TemporaryDirectory(prefix="moodbox-doctor-") as folder:
        tone = _write_tone(Path(folder) / "tone.wav")
        with VlcPlayer(events.put, audio.output, audio.device, audio.volume) as player:
            token = player.play(str(tone))
            kinds = _wait_for_end(events, token)
    if "error" in kinds or "ended" not in kinds:
        raise Problem(f"{name}: the tone did not play ({', '.join(kinds) or 'no news from VLC'})",
                      AUDIO_FIX)
    silent = " (dummy output: nothing is heard)" if audio.output == "dummy" else ""
    return Result("audio", OK, f"{name}: opened, a {TONE_S:g} s tone played{silent}")


def _wait_for_end(events: queue.Queue[object], token: int) -> list[str]:
    from appliance.daemon.events import PlayerEvent

    kinds: list[str] = []
    deadline = time.monotonic() + TONE_TIMEOUT_S
    while "ended" not in kinds and "error" not in kinds:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if isinstance(event, PlayerEvent) and event.token == token:
            kinds.append(event.kind)
    return kinds


def _write_tone(path: Path) -> Path:
    t = np.arange(int(TONE_RATE * TONE_S)) / TONE_RATE
    fade = np.minimum(1.0, np.minimum(t, TONE_S - t) / 0.05)  # no clicks at either end
    write_wav(path, np.sin(2 * np.pi * TONE_HZ * t) * fade * 0.12, rate=TONE_RATE)
    return path
