"""pytest plugin loaded before Django starts (``-p backend.testenv``): tests use generated local
keys unless the environment says otherwise."""

import os

os.environ.setdefault("XINQIAO_ENV", "test")
