"""One unmanaged table; ``bench/_submit_seed.py`` creates it with plain SQL in the bench database."""

from __future__ import annotations

from django.db import models


class CeilingRow(models.Model):
    a1 = models.IntegerField()
    a2 = models.IntegerField()
    a3 = models.IntegerField()
    a4 = models.IntegerField()
    a5 = models.IntegerField()
    a6 = models.IntegerField()
    a7 = models.IntegerField()
    a8 = models.IntegerField()
    a9 = models.IntegerField()

    class Meta:
        managed = False
        db_table = "bench_ceiling"

    def __str__(self) -> str:
        return str(self.pk)
