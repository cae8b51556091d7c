"""The appliance's error hierarchy: third-party errors are translated into these once.

Each class also subclasses the closest builtin, so callers that only know the builtin still
catch it. Failure policy: camera and model errors skip a mood check and the music plays on;
playback errors skip a track; config errors stop startup with every problem listed.
"""


class ApplianceError(Exception):
    """Base of every error the appliance raises on purpose."""


class ConfigError(ApplianceError, ValueError):
    """The configuration is invalid; ``problems`` lists every one, a line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CameraUnavailable(ApplianceError, OSError):
    """The camera cannot be opened or stopped giving frames."""


class ModelError(ApplianceError, RuntimeError):
    """A model file is missing, corrupt, or not the shape and type the contract says."""


class PlaybackError(ApplianceError, RuntimeError):
    """A track cannot be played or the audio output cannot be opened."""


class LibraryError(ApplianceError, OSError):
    """The music library or its database cannot be read or written."""


class AudioError(LibraryError):
    """A track's audio cannot be decoded, or is too short or silent to estimate from."""
