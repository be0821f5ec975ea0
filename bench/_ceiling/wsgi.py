"""WSGI entry of the ceiling server: the product's settings (``backend.settings``, same middleware,
database and connection handling), plus the ceiling app and its URL module. Serve it like
``backend.wsgi:application``: ``gunicorn bench._ceiling.wsgi:application``."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "bench._ceiling"]
settings.ROOT_URLCONF = "bench._ceiling.urls"

application = get_wsgi_application()
