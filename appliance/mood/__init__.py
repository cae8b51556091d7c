"""Mood check: capture, detect faces, crop, classify, aggregate into a ``MoodReading``."""
