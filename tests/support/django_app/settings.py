"""A minimal Django project whose one database is a Lampion connection string (from the
LAMPION_DSN environment variable), to run Django's test runner through the proxy."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, unquote, urlsplit

_dsn = urlsplit(os.environ["LAMPION_DSN"])

SECRET_KEY = "only-for-tests"
INSTALLED_APPS = ["notes"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_dsn.path.lstrip("/")),
        "USER": unquote(_dsn.username or ""),
        "PASSWORD": unquote(_dsn.password or ""),
        "HOST": _dsn.hostname,
        "PORT": _dsn.port,
        "OPTIONS": dict(parse_qsl(_dsn.query)),
    }
}
