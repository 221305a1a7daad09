"""The web form: one static page that talks to the JSON API (no templates, no CDN)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

web = Blueprint("web", __name__)


@web.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")
