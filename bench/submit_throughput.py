"""Benchmark: the student submit (POST /api/v1/me/assignments/{id}/submit/) against a bare DRF ceiling.

Serves the platform with gunicorn (sync workers, one per core, production settings, persistent
PostgreSQL connections) over a dedicated PostgreSQL database seeded with one school of 10,000
students and a launched campaign of PHQ-9, GAD-7 and ASQ, every student's consent recorded. A load
generator on 127.0.0.1 (a separate process) submits as distinct students, each with their own API
token and Idempotency-Key: mostly green answer sets, 3 % of them red (PHQ-9 item 9 = 2, or an acute
positive ASQ), which raise a crisis alert and e-mail the counsellors after commit (the console
backend; the server's output goes to a log file).

In the same run, a second gunicorn of the same shape (same settings, middleware, database) serves
the ceiling: a bare DRF endpoint that validates nine integers with a serializer and inserts one
row through the ORM (``bench/_ceiling/``; never in the product's URLs). Like every endpoint of this
server it keeps the server's DRF settings, so each request carries an API token that the server's
authentication checks; nothing of the product's own runs in its view. For reference, the same
endpoint without authentication ("bare", AllowAny) runs too, with half as many requests; its rate
and the submit's share of it are printed but are not the target. The three take turns in rounds
(ceiling, submit, bare; three rounds), so that each sees the same machine, and are pooled.

After the run, the database must hold every accepted submission exactly once (with its own key,
three results and, for red ones, an alert that was e-mailed) and nothing else.

Target: submit throughput at least 0.40 of the ceiling, submit p99 under 250 ms at 32
connections, no errors, no duplicates. The last line is
``submit_throughput: <ratio> of ceiling (target ≥ 0.40) PASS|FAIL``; exit status 1 on FAIL.

Run from the repository root, after ``./dev test`` made .venv, with PostgreSQL running and the
role of .ci/run (``xinqiao``/``xinqiao`` with CREATEDB)::

    .venv/bin/python bench/submit_throughput.py [--students 10000] [--requests 6000]
        [--connections 32] [--database-url postgres://xinqiao:xinqiao@127.0.0.1:5432/xinqiao_bench] [--keep]
        [--profile]

``--profile`` skips the load run and shows instead where a submit's time goes: its queries, CPU
per request of the ceiling and the submit (app and PostgreSQL), and a profile by module and step.

Besides rates and latencies it prints the CPU time per request of the gunicorn workers, of the
PostgreSQL backends and of the load generator (Linux /proc). Those depend far less than the rates
on whatever else the machine runs; when the ceiling's first and last rounds disagree, it says so.

The database named in --database-url is dropped and created again (its name must contain
"bench"); --keep leaves it, and the work directory with the server logs, for a look afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

try:
    import psycopg
    from cryptography.fernet import Fernet
except ImportError:  # started with another Python: use the project's environment
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    raise

TARGET_RATIO = 0.40
TARGET_P99_MS = 250.0
ROUNDS = 3  # ceiling, submit and bare take turns this many times (see main)
RED_SHARE = 0.03
DEFAULT_URL = "postgres://xinqiao:xinqiao@127.0.0.1:5432/xinqiao_bench"
CORES = getattr(os, "process_cpu_count", os.cpu_count)() or 2  # what nproc says


# --- answers ------------------------------------------------------------------------------------


def answer_set(rng: random.Random, red: bool) -> dict[str, dict[str, Any]]:
    """A plausible sitting: low symptom answers (mostly green, some yellow), PHQ-9 item 9 = 0 and a
    negative ASQ; a red one has PHQ-9 item 9 = 2, or an ASQ with yes on item 1 and item 5."""
    weights = (0.62, 0.28, 0.08, 0.02)

    def item() -> int:
        return rng.choices((0, 1, 2, 3), weights)[0]

    phq9 = {str(i): item() for i in range(1, 9)} | {"9": 0}
    gad7 = {str(i): item() for i in range(1, 8)}
    asq: dict[str, bool] = {str(i): False for i in range(1, 5)}
    if red:
        if rng.random() < 0.5:
            phq9["9"] = 2
        else:
            asq["1"], asq["5"] = True, True
    return {"phq9": phq9, "gad7": gad7, "asq": asq}


def http_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> str:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             "Accept: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n" + body.decode("utf-8")


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"{what} failed (exit {done.returncode})")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(name: str, app: str, workers: int, env: dict[str, str], work: Path) -> Server:
    port = free_port()
    log = work / f"{name}.log"
    cmd = [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", "sync", "--chdir", str(ROOT), "--log-level", "warning", "--no-control-socket"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env | {"XINQIAO_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                                stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, port, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} server exited at start:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/1.1 401"):
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} server did not answer within 60 s:\n{log.read_text()[-3000:]}")


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def server_cpu(master: int, database: str) -> tuple[float, float]:
    """CPU seconds so far of the server's gunicorn workers and of PostgreSQL's backends serving
    the bench database (Linux /proc; zeros elsewhere). Unlike wall time, this hardly depends on
    what else the machine is doing."""
    app = db = 0.0
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master:
            app += _cpu_of(int(entry.name))
        elif cmdline.startswith("postgres: ") and f" {database} " in cmdline:
            db += _cpu_of(int(entry.name))
    return app, db


@dataclass
class Phase:
    name: str
    count: int
    ok: int
    wall: float
    cpu: float
    statuses: list[int]
    latencies: list[float]
    errors: list[str]
    app_cpu: float = 0.0
    db_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return self.count / self.wall

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def failures(self) -> int:
        return self.count - self.ok


def load(name: str, server: Server, database: str, connections: int, requests: list[str], work: Path) -> Phase:
    """Send the requests from a load-generator process; 201 is success."""
    spec, out = work / f"{name}.spec.json", work / f"{name}.out.json"
    spec.write_text(json.dumps({"port": server.port, "connections": connections, "requests": requests}))
    app0, db0 = server_cpu(server.proc.pid, database)
    subprocess.run([sys.executable, str(ROOT / "bench" / "_loadgen.py"), "--spec", str(spec), "--out", str(out)],
                   cwd=ROOT, check=True)
    app1, db1 = server_cpu(server.proc.pid, database)
    r = json.loads(out.read_text())
    ok = sum(1 for s in r["statuses"] if s == 201)
    return Phase(name, len(requests), ok, r["wall"], r["cpu"], r["statuses"], r["latencies"], r["errors"],
                 app1 - app0, db1 - db0)


def pooled(name: str, *phases: Phase) -> Phase:
    return Phase(name, sum(p.count for p in phases), sum(p.ok for p in phases), sum(p.wall for p in phases),
                 sum(p.cpu for p in phases), [s for p in phases for s in p.statuses],
                 [x for p in phases for x in p.latencies], [e for p in phases for e in p.errors],
                 sum(p.app_cpu for p in phases), sum(p.db_cpu for p in phases))


# --- database -----------------------------------------------------------------------------------


def admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    try:
        with psycopg.connect(admin_url(url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"cannot create the bench database through {admin_url(url)}: {exc}\n"
            "Start PostgreSQL and create the role as .ci/run does "
            "(CREATE ROLE xinqiao LOGIN CREATEDB PASSWORD 'xinqiao')."
        ) from None


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify(url: str, sent: dict[int, tuple[str, bool]], accepted: set[int], ceiling_ok: int) -> list[str]:
    """Problems found in the database after the run (empty when all is well)."""
    problems: list[str] = []
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT assignment_id, idempotency_key, tier FROM campaigns_submission").fetchall()
        seen: dict[int, int] = {}
        for assignment_id, key, _tier in rows:
            seen[assignment_id] = seen.get(assignment_id, 0) + 1
            if assignment_id in sent and sent[assignment_id][0] != key:
                problems.append(f"submission of assignment {assignment_id} holds another Idempotency-Key")
        dupes = {a: n for a, n in seen.items() if n > 1}
        if dupes:
            problems.append(f"{len(dupes)} assignments have more than one submission")
        if len(rows) != len(accepted):
            problems.append(f"{len(rows)} submissions in the database for {len(accepted)} accepted (201)")
        missing, extra = accepted - seen.keys(), seen.keys() - accepted
        if missing:
            problems.append(f"{len(missing)} accepted submissions are not in the database")
        if extra:
            problems.append(f"{len(extra)} submissions in the database were not accepted")
        results = conn.execute("SELECT count(*) FROM campaigns_result").fetchone()[0]  # type: ignore[index]
        if results != 3 * len(rows):
            problems.append(f"{results} results for {len(rows)} submissions (expected 3 each)")
        bad = conn.execute("SELECT count(*) FROM (SELECT submission_id FROM campaigns_result GROUP BY 1 "
                           "HAVING count(*) <> 3) t").fetchone()[0]  # type: ignore[index]
        if bad:
            problems.append(f"{bad} submissions without exactly three results")
        submitted = conn.execute("SELECT count(*) FROM campaigns_assignment WHERE status = 'submitted'").fetchone()[0]  # type: ignore[index]
        if submitted != len(accepted):
            problems.append(f"{submitted} assignments marked submitted for {len(accepted)} accepted")
        red_sent = sum(1 for a in accepted if sent[a][1])
        tiers = dict(conn.execute("SELECT tier, count(*) FROM campaigns_submission GROUP BY 1").fetchall())
        alerts, mailed = conn.execute("SELECT count(*), count(notified_at) FROM campaigns_crisisalert").fetchone()  # type: ignore[misc]
        if tiers.get("red", 0) != red_sent or alerts != red_sent:
            problems.append(f"{red_sent} red answer sets accepted, {tiers.get('red', 0)} red submissions, {alerts} alerts")
        if mailed != alerts:
            problems.append(f"{alerts - mailed} alerts were not e-mailed")
        ceiling_rows = conn.execute("SELECT count(*) FROM bench_ceiling").fetchone()[0]  # type: ignore[index]
        if ceiling_rows != ceiling_ok:
            problems.append(f"{ceiling_rows} ceiling rows for {ceiling_ok} accepted ceiling POSTs")
    print(f"  database: {len(rows):,} submissions, {results:,} results, {alerts} red alerts ({mailed} e-mailed); "
          f"tiers {', '.join(f'{t} {tiers.get(t, 0)}' for t in ('green', 'yellow', 'orange', 'red'))}")
    return problems


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return 0 on PASS, 1 on FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=6_000, help="measured submissions (and ceiling POSTs)")
    parser.add_argument("--warmup", type=int, default=300, help="submissions (and ceiling POSTs) before measuring")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=CORES, help="gunicorn sync workers (default: cores)")
    parser.add_argument("--database-url", default=os.environ.get("XINQIAO_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--keep", action="store_true", help="keep the bench database and the work directory")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the load run: where a submit's time goes (bench/_submit_profile.py)")
    args = parser.parse_args(argv)
    if args.warmup + args.requests > args.students and not args.profile:
        parser.error("--warmup + --requests must not exceed --students: every submission is a distinct student")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the --database-url database is dropped and created again: its name must contain 'bench'")

    work = Path(tempfile.mkdtemp(prefix="xinqiao-bench-"))
    (work / "static").mkdir()
    env = {
        **os.environ,
        "XINQIAO_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": args.database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "XINQIAO_DATA_DIR": str(work),
        "XINQIAO_PUBLIC_URL": "http://127.0.0.1:8000",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("EMAIL_HOST", None)  # alert e-mail goes to the console backend, i.e. the server log
    servers: list[Server] = []
    try:
        t0 = time.perf_counter()
        recreate_database(args.database_url)
        run([sys.executable, "manage.py", "migrate", "--noinput"], env, "migrate")
        t1 = time.perf_counter()
        run([sys.executable, str(ROOT / "bench" / "_submit_seed.py"), "--students", str(args.students),
             "--out", str(work / "seed.json")], env, "seed")
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            # Statistics for the tables the seed filled, as a live database has them. Not for the
            # empty ones (submissions, results, alerts, cases): vacuumed or analysed while empty, they tell the
            # planner "no rows", and the foreign-key checks each insert makes (results → submission)
            # keep a sequential-scan plan for the life of the connection, so every submit reads the
            # whole growing table (three scans a submit, seen in pg_stat_user_tables). A real
            # database is not analysed while empty, and its tables are not empty for long.
            filled = [r[0] for r in conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 0 OR n_tup_ins > 0").fetchall()]
            for table in filled:
                conn.execute(f'VACUUM ANALYZE "{table}"')
        seed = json.loads((work / "seed.json").read_text())
        print(f"set-up: database migrated in {t1 - t0:.1f} s; seeded {args.students:,} students, their tokens, "
              f"consents and assignments in {time.perf_counter() - t1:.1f} s")
        if args.profile:
            n = min(500, (args.students - 21) // 2)
            subprocess.run([sys.executable, str(ROOT / "bench" / "_submit_profile.py"), "--seed", str(work / "seed.json"),
                            "--requests", str(n)], cwd=ROOT, env=env | {"XINQIAO_LOG_LEVEL": "WARNING"}, check=True)
            return 0

        product = start_server("product", "backend.wsgi:application", args.workers, env, work)
        ceiling = start_server("ceiling", "bench._ceiling.wsgi:application", args.workers, env, work)
        servers += [product, ceiling]

        rng = random.Random(20261104)
        students = seed["students"][: args.warmup + args.requests]
        rng.shuffle(students)
        sent: dict[int, tuple[str, bool]] = {}
        submit_requests: list[str] = []
        order: list[int] = []
        for assignment_id, token in students:
            red = rng.random() < RED_SHARE
            key = uuid.uuid4().hex
            body = json.dumps({"answers": answer_set(rng, red)}, separators=(",", ":")).encode()
            sent[assignment_id] = (key, red)
            order.append(assignment_id)
            submit_requests.append(http_post(product.port, f"/api/v1/me/assignments/{assignment_id}/submit/", body,
                                             {"Authorization": f"Token {token}", "Idempotency-Key": key}))
        ceiling_token = {"Authorization": f"Token {seed['students'][-1][1]}"}  # any user: the check costs the same
        nine = [json.dumps({f"a{i}": rng.randint(0, 3) for i in range(1, 10)}, separators=(",", ":")).encode()
                for _ in range(args.warmup + args.requests)]
        ceiling_requests = [http_post(ceiling.port, "/bench/ceiling/", body, ceiling_token) for body in nine]
        bare_requests = [http_post(ceiling.port, "/bench/ceiling-bare/", body, {}) for body in nine]

        c = args.connections
        w, n, half = args.warmup, args.requests, args.requests // 2
        db = urlsplit(args.database_url).path.lstrip("/")
        warm_ceiling = load("ceiling-warmup", ceiling, db, c, ceiling_requests[:w], work)
        warm_submit = load("submit-warmup", product, db, c, submit_requests[:w], work)
        warm_bare = load("bare-warmup", ceiling, db, c, bare_requests[:w], work)
        # Rounds of ceiling, submit and bare in turn: on a shared machine the speed drifts, and
        # interleaving lets each see the same machine (pooled per kind afterwards).
        parts: dict[str, list[Phase]] = {"ceiling": [], "submit": [], "bare": []}
        for r in range(ROUNDS):
            cut = slice(w + r * n // ROUNDS, w + (r + 1) * n // ROUNDS)
            half_cut = slice(w + r * half // ROUNDS, w + (r + 1) * half // ROUNDS)
            parts["ceiling"].append(load(f"ceiling-{r + 1}", ceiling, db, c, ceiling_requests[cut], work))
            parts["submit"].append(load(f"submit-{r + 1}", product, db, c, submit_requests[cut], work))
            parts["bare"].append(load(f"bare-{r + 1}", ceiling, db, c, bare_requests[half_cut], work))
        ceil, submit, bare = (pooled(kind, *parts[kind]) for kind in ("ceiling", "submit", "bare"))
        ceiling_a, ceiling_b = parts["ceiling"][0], parts["ceiling"][-1]

        accepted = {order[i] for i, s in enumerate(warm_submit.statuses + submit.statuses) if s == 201}
        print(f"server: gunicorn {args.workers} sync workers (cores: {CORES}), production settings, "
              f"PostgreSQL with persistent connections; load generator: 1 process, {c} connections on 127.0.0.1")
        print("  gunicorn's sync workers close the connection after each response: every request opens a new "
              "one, and its latency includes the connect")
        print("  submit: token auth, distinct students, PHQ-9 + GAD-7 + ASQ, "
              f"{RED_SHARE:.0%} red (alert + e-mail after commit)")
        print("  ceiling: bare DRF APIView, serializer of nine integers, one ORM insert; same settings, middleware "
              "and token authentication as every endpoint here")
        print("  bare: the ceiling without authentication (AllowAny), for reference only")
        print(f"{'':9} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}   CPU ms per request: "
              "app  PostgreSQL  load generator")
        for p in (*parts["ceiling"], ceil, *parts["submit"], submit, bare):
            print(f"{p.name:9} {p.count:>8,} {p.rps:>7.0f} {p.pct(0.50):>7.1f} {p.pct(0.99):>7.1f} {p.failures:>6}   "
                  f"{'':19}{p.app_cpu / p.count * 1000:>4.2f}  {p.db_cpu / p.count * 1000:>10.2f}  "
                  f"{p.cpu / p.count * 1000:>14.2f}")
        for p in (warm_ceiling, warm_submit, ceil, submit, bare):
            for e in p.errors[:3]:
                print(f"  {p.name} error: {e}")

        cpu_submit, cpu_ceiling = (submit.app_cpu + submit.db_cpu) / submit.count, (ceil.app_cpu + ceil.db_cpu) / ceil.count
        if cpu_submit and cpu_ceiling:
            print(f"  CPU per request (app + PostgreSQL): submit {cpu_submit * 1000:.1f} ms, ceiling "
                  f"{cpu_ceiling * 1000:.1f} ms; their inverse ratio {cpu_ceiling / cpu_submit:.2f} is what the "
                  "throughput ratio tends to when the CPU is the limit")
        drift = abs(ceiling_a.rps - ceiling_b.rps) / max(ceiling_a.rps, ceiling_b.rps)
        if drift > 0.2:
            print(f"  NOTE: the ceiling ran {drift:.0%} slower or faster in the last round than in the first: "
                  "something else used the machine, so the throughputs are less reliable than the CPU figures")
        problems = verify(args.database_url, sent, accepted, warm_ceiling.ok + ceil.ok + warm_bare.ok + bare.ok)
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        ratio = submit.rps / ceil.rps
        p99 = submit.pct(0.99)
        errors = sum(p.failures for p in (submit, warm_submit, ceil, warm_ceiling, bare, warm_bare))
        print(f"  reference: the bare ceiling ran {bare.rps:.0f} req/s; the submit is {submit.rps / bare.rps:.2f} of it")
        print(f"submit {submit.rps:.0f} req/s, ceiling {ceil.rps:.0f} req/s; submit p50 {submit.pct(0.5):.1f} ms, "
              f"p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f}); errors {errors}; "
              f"database {'consistent' if not problems else 'NOT consistent'}")
        passed = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS and errors == 0 and not problems
        status = "PASS" if passed else "FAIL"
        print(f"submit_throughput: {ratio:.2f} of ceiling (target ≥ {TARGET_RATIO:.2f}) {status}")
        return 0 if passed else 1
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            print(f"(kept: database {urlsplit(args.database_url).path.lstrip('/')}, work directory {work})",
                  file=sys.stderr)
        else:
            try:
                drop_database(args.database_url)
            except psycopg.Error as exc:
                print(f"could not drop the bench database: {exc}", file=sys.stderr)
            for f in sorted(work.rglob("*"), reverse=True):
                f.rmdir() if f.is_dir() else f.unlink()
            work.rmdir()


if __name__ == "__main__":
    sys.exit(main())
