"""/docs (Swagger UI) and /redoc over /openapi.json, their scripts served from the package.

The pages FastAPI builds load their JavaScript and CSS from a CDN by default; here they
come from ``server/vendor`` (see its README for versions and licences), so the docs work
on a machine without internet access. A Content-Security-Policy keeps the pages from
fetching anything elsewhere (ReDoc's sidebar logo comes from its CDN: blocked, it hides
itself), and Swagger UI's online validator badge is turned off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR_DIR = Path(__file__).parent / "vendor"
ASSETS = "/docs-assets"
# Their own inline script and styles stay allowed; nothing may be fetched from elsewhere.
LOCAL_ONLY = {
    "Content-Security-Policy": "img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'"
}


def install(app: FastAPI) -> None:
    """Call on an app created with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=VENDOR_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers.update(LOCAL_ONLY)
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        page.headers.update(LOCAL_ONLY)
        return page
