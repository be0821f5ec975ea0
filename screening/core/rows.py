"""Rows on hot paths: INSERT and UPDATE with their SQL built once per model and shape, and
instances read from one hand-written SELECT across several tables.

``Model.save()`` and ``bulk_create()`` build and compile their statement anew on every call. On the
student's submit (bench/submit_throughput.py) that compiling cost more than the database's own
work for the same rows. These write the same rows as ``save()`` would, with values prepared the
same way (``Field.pre_save`` then ``Field.get_db_prep_save``: JSON, encryption, time zones), but
compile once per model, field list and row count, so the statement text is also the same each
time and PostgreSQL can keep it prepared.

They are for plain models (no multi-table inheritance) and new rows only. Like ``bulk_create()``
they send no model signals and skip ``save()`` overrides; Xinqiao registers no model signals, and
the audit log's ``save()`` only refuses updates, which ``insert`` refuses too.

``select_list`` and ``load`` serve a SELECT whose compiling, with ``select_related`` over several
tables, cost the ORM many times the query itself (the submit's locked read of the assignment):
values pass through the same converters as in the ORM and instances come from ``Model.from_db``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, models, router


@cache
def _insert_sql(model: type[models.Model], alias: str, rows: int) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    meta = model._meta
    assert not meta.parents, f"{meta.label}: multi-table inheritance is not supported here"
    fields = tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field and not getattr(f, "generated", False))
    qn = connections[alias].ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(qn(str(f.column)) for f in fields)
    sql = (f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608  (names from the model)
           f"VALUES {', '.join([row] * rows)} RETURNING {qn(str(meta.pk.column))}")
    return sql, fields


@cache
def _update_sql(model: type[models.Model], alias: str, names: tuple[str, ...]) -> tuple[str, tuple[models.Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    if not all(isinstance(f, models.Field) and f.concrete and not f.primary_key for f in fields):
        raise ValueError(f"{meta.label}: update() writes concrete fields other than the key")
    qn = connections[alias].ops.quote_name
    sets = ", ".join(f"{qn(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(str(meta.pk.column))} = %s"  # noqa: S608
    return sql, fields  # type: ignore[return-value]


def insert(objs: Sequence[models.Model]) -> None:
    """Insert new rows of one model in one statement, and set their primary keys."""
    if not objs:
        return
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    sql, fields = _insert_sql(model, alias, len(objs))
    params: list[Any] = []
    for obj in objs:
        if type(obj) is not model or obj.pk is not None:
            raise ValueError("insert() writes new rows of one model")
        params.extend(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    for obj, (key,) in zip(objs, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, alias


def insert_like(template: models.Model, varying: Sequence[str], values: Iterable[Sequence[Any]], *,
                batch: int = 500) -> int:
    """New rows of ``template``'s model, each one ``template`` with the fields named in ``varying``
    set from one tuple of ``values``; in statements of ``batch`` rows. Returns how many rows.

    For many rows that differ in a few fields (an export's audit entries: one per student, the
    rest the same): ``template``'s fields are prepared once (``pre_save`` then
    ``get_db_prep_save``, as ``insert``; an ``auto_now_add`` time is the same for all), and only
    the varying ones per row, through the same ``get_db_prep_save``. Keys are not read back."""
    model = type(template)
    if template.pk is not None:
        raise ValueError("insert_like() writes new rows")
    alias = router.db_for_write(model)
    connection = connections[alias]
    _sql, fields = _insert_sql(model, alias, 1)
    fixed = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    position = {f.name: k for k, f in enumerate(fields)}
    slots = [(position[name], fields[position[name]]) for name in varying]
    count, chunk = 0, []
    for row in values:
        params = list(fixed)
        for (k, field), value in zip(slots, row, strict=True):
            params[k] = field.get_db_prep_save(value, connection)
        chunk.append(params)
        if len(chunk) == batch:
            count += _insert_params(model, alias, chunk)
            chunk = []
    return count + (_insert_params(model, alias, chunk) if chunk else 0)


def insert_from(template: models.Model, taken: dict[str, str], source: type[models.Model], keys: Sequence[Any]) -> int:
    """New rows of ``template``'s model, one per row of ``source`` whose key is in ``keys``, made by
    the database in one ``INSERT … SELECT``: ``template``'s fields prepared once (as ``insert_like``)
    except those of ``taken``, which take a column of the source row (``{"object_id": "id"}``; a text
    field gets the column cast to text). No value passes through Python per row: for an export's
    audit entries, one per exported student, where the student's id is all the export holds.
    Returns how many rows were inserted."""
    if not keys:
        return 0
    model = type(template)
    alias = router.db_for_write(model)
    connection = connections[alias]
    qn = connection.ops.quote_name
    _sql, fields = _insert_sql(model, alias, 1)
    select, params = [], []
    for field in fields:
        if field.name in taken:
            found = source._meta.get_field(taken[field.name])
            assert isinstance(found, models.Field), f"{source._meta.label}.{taken[field.name]}: not a column"
            column = f"s.{qn(str(found.column))}"
            text = isinstance(field, models.CharField)
            select.append(f"CAST({column} AS {field.db_type(connection)})" if text else column)
        else:
            # PostgreSQL types a bare parameter in a SELECT list as text; SQLite has no column types to
            # cast to (a CAST there would turn a time into a number).
            typed = connection.vendor != "sqlite"
            select.append(f"CAST(%s AS {field.db_type(connection)})" if typed else "%s")
            params.append(field.get_db_prep_save(field.pre_save(template, True), connection))
    columns = ", ".join(qn(str(f.column)) for f in fields)
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({columns}) SELECT {', '.join(select)} "  # noqa: S608
           f"FROM {qn(source._meta.db_table)} s WHERE s.{qn(str(source._meta.pk.column))} IN "
           f"({', '.join(['%s'] * len(keys))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *keys])
        return int(cursor.rowcount)


def _insert_params(model: type[models.Model], alias: str, chunk: list[list[Any]]) -> int:
    sql, _fields = _insert_sql(model, alias, len(chunk))
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [value for params in chunk for value in params])
        cursor.fetchall()
    return len(chunk)


def update(obj: models.Model, fields: Sequence[str]) -> None:
    """Write these fields of a saved row, as ``obj.save(update_fields=fields)`` would (and, like
    it, refuse a row without a key or one that is not in the database)."""
    model = type(obj)
    alias = obj._state.db or router.db_for_write(model)
    connection = connections[alias]
    if obj.pk is None:
        raise ValueError("update() writes saved rows; this one has no key")
    sql, prepared = _update_sql(model, alias, tuple(fields))
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in prepared]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, obj.pk])
        if cursor.rowcount != 1:  # as save(update_fields=…) refuses a row that is not there
            raise ObjectDoesNotExist(f"{model._meta.label} {obj.pk} is not there to update")


# --- reading rows of several models from one hand-written SELECT ----------------------------------


@cache
def _loaders(model: type[models.Model], alias: str, skip: frozenset[str]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The attnames a row of ``model`` carries and, per field, its column and database converters
    (the backend's and the field's, as the ORM applies them). Kept per database alias: a
    backend's converters depend on its vendor and settings only, and ``load`` passes them the
    calling thread's own connection."""
    connection = connections[alias]
    fields = [f for f in model._meta.concrete_fields if f.name not in skip]
    converters = []
    for f in fields:
        col = f.get_col(model._meta.db_table)
        converters.append((col, tuple(connection.ops.get_db_converters(col)) + tuple(col.get_db_converters(connection))))
    return tuple(f.attname for f in fields), tuple(converters)


def select_list(model: type[models.Model], table: str, *, skip: frozenset[str] = frozenset(), alias: str = "default") -> str:
    """The SELECT list for :func:`load`: ``model``'s concrete fields (but ``skip``) read from ``table``."""
    qn = connections[alias].ops.quote_name
    return ", ".join(f"{table}.{qn(str(f.column))}" for f in model._meta.concrete_fields if f.name not in skip)


def load(model: type[models.Model], row: Sequence[Any], start: int, *, skip: frozenset[str] = frozenset(),
         alias: str = "default") -> tuple[models.Model | None, int]:
    """The instance in ``row[start:]`` (laid out by :func:`select_list`), converted as the ORM
    would and built with ``Model.from_db`` (fields in ``skip`` are deferred), and where the next
    model's columns start. None when its primary key is NULL (an outer join found nothing)."""
    attnames, converters = _loaders(model, alias, skip)
    end = start + len(attnames)
    connection = connections[alias]
    values = []
    for raw, (col, funcs) in zip(row[start:end], converters, strict=True):
        value = raw
        for func in funcs:
            value = func(value, col, connection)
        values.append(value)
    if values[attnames.index(model._meta.pk.attname)] is None:
        return None, end
    return model.from_db(alias, list(attnames), values), end
