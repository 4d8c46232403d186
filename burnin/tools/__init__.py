"""One adapter per external program: build its argv, parse its output and exit code. Adapters never judge."""
