# WSGI is the supported way to serve Xinqiao (DESIGN.md §7: ASGI was slower and leaked connections).
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_asgi_application()
