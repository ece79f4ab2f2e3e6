"""The one module-level application, for ASGI servers: `uvicorn wikiloom.asgi:app`."""

from wikiloom.config import Settings
from wikiloom.http import create_app

app = create_app(Settings())
