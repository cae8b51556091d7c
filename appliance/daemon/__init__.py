"""The daemon: its loop and timers, the listening session, mood checks on a worker, the library
scanner, and what it reports (events file, state file, systemd notifications)."""
