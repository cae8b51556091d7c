"""One module per ``moodbox`` subcommand, each with ``register(subparsers)``."""
