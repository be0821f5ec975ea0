"""The ceiling of ``bench/submit_throughput.py``: a bare DRF endpoint that validates nine integers
and inserts one row, served by the same settings, middleware and DRF authentication as the
product (see ``wsgi.py`` and ``urls.py``; an unauthenticated twin is measured for reference).

Benchmark-only. It is never in the product's URLs or INSTALLED_APPS: only ``bench._ceiling.wsgi``
adds it, for the benchmark's own gunicorn.
"""
