"""Screening campaigns and their assignments (consent, answering and results build on these)."""
