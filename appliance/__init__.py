"""Moodbox: a music-therapy appliance that reads the listener's mood and picks the next song."""

__version__ = "0.1.0"
