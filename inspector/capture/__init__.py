"""Capture: socket to row. Read the raw request, answer handshakes, insert the row (group commit on SQLite)."""
