"""Hookloupe's capture benchmark (`python bench/run.py`); see bench/README.md."""
