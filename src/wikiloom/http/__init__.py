"""The web layer: `create_app(settings)` assembles every router."""

from wikiloom.http.app import create_app

__all__ = ["create_app"]
