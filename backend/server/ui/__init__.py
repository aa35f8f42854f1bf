"""The run monitor at /ui: pages, their scripts and styles, all served from the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.server.ui import connect, routes

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.include_router(routes.router)
    app.include_router(connect.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
