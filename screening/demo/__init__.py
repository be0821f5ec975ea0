"""Demo data for ``manage.py seed_demo``: a believable, entirely made-up city.

Every capability adds its part here so its whole path can be seen in the demo. Each part is safe
to run twice: it finds what exists and adds only what is missing.
"""
