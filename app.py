"""The WSGI entry point for gunicorn (`gunicorn app:app`)."""

from inspector import create_app

app = create_app()
