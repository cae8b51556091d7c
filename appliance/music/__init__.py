"""Music: the SQLite library, the valence rules, and VLC playback."""
