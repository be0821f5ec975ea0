"""The ceiling of ``bench/submit_throughput.py``: a bare DRF endpoint that validates nine integers
and inserts one row, served by the same settings and middleware as the product (see ``wsgi.py``).

Benchmark-only. It is never in the product's URLs or INSTALLED_APPS: only ``bench._ceiling.wsgi``
adds it, for the benchmark's own gunicorn.
"""
