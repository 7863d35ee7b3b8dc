"""One module per command family; cli.py imports them only when the command runs."""
