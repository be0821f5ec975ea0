"""Where a submit's time goes (``bench/submit_throughput.py --profile`` runs this on its seeded database).

In one process, through Django's test client (the same settings and middleware, no gunicorn and no
network): the queries of one submit, then the CPU time per request of the ceiling POST and of
the submit (process time, so it barely depends on what else the machine runs), then a profile of
the submits by CPU time, grouped by the code that spent it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import bench._ceiling.wsgi  # noqa: E402, F401  (the product's settings plus the ceiling route)
from screening.campaigns.models import Assignment  # noqa: E402

BODY = {"answers": {"phq9": {str(i): 1 for i in range(1, 9)} | {"9": 0}, "gad7": {str(i): 0 for i in range(1, 8)},
                    "asq": {str(i): False for i in range(1, 5)}}}
CEILING = {f"a{i}": i % 4 for i in range(1, 10)}


def group_of(filename: str, function: str) -> str:
    """A readable owner for a profile entry: the project module, or the library."""
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        parts = path.split("/site-packages/", 1)[1].split("/")
        if parts[0] == "django" and len(parts) > 2:
            return f"django.{parts[1]}" + (f".{parts[2]}" if parts[1] in ("db", "core") and len(parts) > 3 else "")
        return parts[0]
    if str(ROOT) in path:
        return path.split(str(ROOT) + "/", 1)[1].removesuffix(".py").replace("/", ".")
    return "python" if filename != "~" else "builtins"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    seed = json.loads(args.seed.read_text())
    pending = set(Assignment.objects.filter(status=Assignment.Status.PENDING).values_list("pk", flat=True))
    todo = [(a, t) for a, t in seed["students"] if a in pending][: 2 * args.requests + 21]
    client = Client(HTTP_HOST="127.0.0.1")

    def submit(assignment: int, token: str) -> int:
        return client.post(f"/api/v1/me/assignments/{assignment}/submit/", json.dumps(BODY),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}",
                           HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex).status_code

    ceiling_token = seed["students"][-1][1]  # the ceiling authenticates, as every endpoint here

    def ceiling() -> int:
        return client.post("/bench/ceiling/", json.dumps(CEILING), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {ceiling_token}").status_code

    for a, t in todo[:20]:  # warm up
        assert submit(a, t) == 201 and ceiling() == 201
    todo = todo[20:]
    a, t = todo.pop()
    with CaptureQueriesContext(connection) as queries:
        submit(a, t)
    print(f"one green submit: {len(queries.captured_queries)} queries")
    for q in queries.captured_queries:
        sql = q["sql"]
        print(f"  {sql[:150]}{'…' if len(sql) > 150 else ''}")
    with CaptureQueriesContext(connection) as queries:
        ceiling()
    print(f"one ceiling POST: {len(queries.captured_queries)} queries")

    backend = Path(f"/proc/{connection.connection.info.backend_pid}/stat")  # type: ignore[union-attr]

    def db_cpu() -> float:  # the PostgreSQL backend serving this process (Linux, same machine)
        try:
            fields = backend.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cpu_ms(fn: object, items: list[object]) -> tuple[float, float]:
        start, db0 = time.process_time(), db_cpu()
        for item in items:
            fn(*item) if isinstance(item, tuple) else fn()  # type: ignore[operator]
        return (time.process_time() - start) / len(items) * 1000, (db_cpu() - db0) / len(items) * 1000

    n = args.requests
    ceil_ms, ceil_db = cpu_ms(ceiling, [None] * n)
    sub_ms, sub_db = cpu_ms(submit, todo[:n])
    print(f"CPU ms per request, test client, sequential, {n} each (app process / its PostgreSQL backend):")
    print(f"  ceiling {ceil_ms:.2f} / {ceil_db:.2f}; submit {sub_ms:.2f} / {sub_db:.2f}; "
          f"submit/ceiling {(sub_ms + sub_db) / (ceil_ms + ceil_db):.1f}x")

    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for a, t in todo[n : 2 * n]:
        submit(a, t)
    profile.disable()
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    own: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        own[group_of(filename, function)] += tottime
    print(f"submit CPU by where it was spent (own time, profiled; {total / n * 1000:.1f} ms per submit with "
          "the profiler's overhead):")
    for name, spent in sorted(own.items(), key=lambda kv: -kv[1])[:22]:
        print(f"  {spent / total:6.1%}  {name}")
    print("submit, the main steps' share of its CPU (cumulative, profiled; the profiler inflates ORM-heavy code "
          "more than the rest):")
    wanted = {
        ("rest_framework/views.py", "initial"): "DRF initial (authentication, permissions: principal)",
        ("rest_framework/authentication.py", "authenticate"): "  token authentication",
        ("screening/core/access.py", "_build_principal"): "  principal (student row and memberships)",
        ("rest_framework/serializers.py", "is_valid"): "AnswersSerializer.is_valid",
        ("screening/campaigns/services/answering.py", "assignment_submit"): "assignment_submit",
        ("screening/campaigns/services/answering.py", "_check_answers"): "  _check_answers",
        ("screening/campaigns/services/answering.py", "_score"): "  _score",
        ("scoring/engine.py", "score"): "  scoring.score (all calls)",
        ("scoring/tiers/decide.py", "decide"): "  decide (tier)",
        ("screening/campaigns/services/answering.py", "_store"): "  _store (transaction body)",
        ("screening/campaigns/services/answering.py", "_locked_own"): "  _locked_own (the locked read)",
        ("screening/core/rows.py", "insert"): "    rows.insert (submission, results, audit entry)",
        ("screening/core/rows.py", "update"): "    rows.update (assignment)",
        ("django/db/transaction.py", "__exit__"): "  commit (atomic exit)",
        ("rest_framework/response.py", "rendered_content"): "JSON rendering",
    }
    rows: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for (suffix, fn), label in wanted.items():
            if filename.replace("\\", "/").endswith(suffix) and function == fn:
                rows[label] = max(rows.get(label, 0.0), cumtime)
    for label in wanted.values():
        if label in rows:
            print(f"  {rows[label] / total:6.1%}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
