"""The HTML pages: home and the live bin page (Jinja + htmx)."""

from flask import Blueprint

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    return "Hookloupe"
