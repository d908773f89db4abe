#!/usr/bin/env python3
"""`make bench`: the three services started the way the images start them, with production
settings, on loopback, driven by wrk beside the Node/Express original they replace.

The reference is the original's design re-created in scripts/bench/reference/ (express 4,
cors, node-fetch 2; installed with `npm ci` into var/bench-reference/): three Node processes,
whose aggregator fetches a verb, then a noun, for every answer. Measured in one run, with the
same wrk settings (2 threads) for every load, in alternating rounds so that other work on the
machine hits both stacks alike: at 64 connections the ceiling (/api/v1/ping/, same process,
middleware and server as the mix), the mix (/api/v1/mix/) and the reference (GET /random);
at 16 and 256 connections the mix and the reference. CPU per answer counts every process of
each stack (for ours the three services, for the reference its three Node processes). Then
the resident memory of each service, freshness (a word added through the API until its first
appearance in a mix), and a fault run (nouns killed with SIGKILL and restarted under load;
every answer counted by status by a wrk Lua hook).

Writes var/bench.json and var/bench.png (or --out-dir), prints a table, and exits 1 when a
target of issue #6 or #12 is missed. `--smoke` runs every phase for a second or two and checks no
target: it proves the benchmark works, not that the app is fast. Every process started here
is stopped on exit, on failure and on Ctrl-C.
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import runpy
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
LUA_DIR = ROOT / "scripts" / "bench"
REFERENCE_DIR = LUA_DIR / "reference"
SERVE_PY = ROOT / "serve.py"
MIB = 1024 * 1024

# The main load; the targets against the reference are also checked at OTHER_CONNECTIONS.
CONNECTIONS = 64
OTHER_CONNECTIONS = (16, 256)
WRK_THREADS = 2
# Targets of issue #6 on a 2-core machine with the load generator on the same machine.
MIN_MIX_OVER_CEILING = 0.85
MAX_P99_FACTOR = 1.5
MAX_RSS_MIB = 128
MAX_FRESHNESS_S = 2.0
MAX_RECOVERY_S = 2.0
# Targets of issue #12, against the Node original (scripts/bench/reference/).
MIN_MIX_OVER_REFERENCE = 2.0  # throughput at CONNECTIONS
MIN_MIX_OVER_REFERENCE_OTHER = 1.5  # throughput at OTHER_CONNECTIONS
MAX_CPU_OVER_REFERENCE = 0.5  # CPU per answer, every process of each stack
MAX_P99_OVER_REFERENCE = 0.5

REQUIRED_KEYS = (
    "ceiling_rps",
    "mix_rps",
    "mix_over_ceiling",
    "ceiling_p99_ms",
    "mix_p99_ms",
    "errors",
    "rss_mib",
    "freshness_s",
    "fault_non_problem_failures",
    "fault_recovery_s",
    "reference_rps",
    "reference_p99_ms",
    "mix_over_reference",
    "mix_cpu_us_per_request",
    "reference_cpu_us_per_request",
    "cpu_over_reference",
    "p99_over_reference",
    "by_connections",
    "targets",
    "targets_met",
)


@dataclass(frozen=True)
class Plan:
    """How long each phase runs."""

    warmup_s: float
    # The loads are measured in alternating rounds, so a burst of other work on the machine
    # lands on all of them rather than on one.
    rounds: int
    round_s: float
    # Rounds at OTHER_CONNECTIONS (mix and reference only).
    other_rounds: int
    freshness_trials: int
    fault_load_s: int
    fault_kill_at_s: float
    # Long enough that the aggregator's cached lists (<= 1 s, then a 0.2 s failure hold)
    # have expired: the fault run must see the outage, not a cache hiding it.
    fault_down_s: float


FULL = Plan(
    warmup_s=2,
    rounds=4,
    round_s=3,
    other_rounds=2,
    freshness_trials=5,
    fault_load_s=12,
    fault_kill_at_s=3,
    fault_down_s=2,
)
SMOKE = Plan(
    warmup_s=1,
    rounds=1,
    round_s=1,
    other_rounds=1,
    freshness_trials=1,
    fault_load_s=5,
    fault_kill_at_s=1,
    fault_down_s=1.5,
)


class BenchError(RuntimeError):
    """The benchmark cannot run; the message says why and what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- processes -------------------------------------------------------------------------------


@dataclass
class Service:
    """One server (granian's main process and its worker) started by serve.py as the images
    start it, in its own process group so it can be killed whole, as a container is."""

    name: str
    settings_module: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Answers 200 once the service (and what it needs) is up.
    ready_path: str = "/readyz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def full_env(self) -> dict[str, str]:
        return {
            **self.env,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "PORT": str(self.port),
            # Loopback only, instead of the images' 0.0.0.0.
            "WORDMIX_SERVER_HOST": "127.0.0.1",
        }

    def command(self) -> list[str]:
        return [sys.executable, str(SERVE_PY)]

    def cwd(self) -> Path:
        return ROOT

    def start(self) -> None:
        log = (self.log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd(),
            env=self.full_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started.append(self.process)

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Polls ready_path until it answers 200; returns the monotonic time it did."""
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise BenchError(f"{self.name} exited at start-up; see {self.log_path()}")
                with contextlib.suppress(requests.RequestException):
                    answer = session.get(f"{self.url}{self.ready_path}", timeout=0.5)
                    if answer.status_code == 200:
                        return time.monotonic()
                time.sleep(0.01)
        raise BenchError(f"{self.name} was not ready within {timeout:g} s; see {self.log_path()}")

    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signals the whole process group and reaps the master."""
        for process in self.started:
            if process.poll() is None or sig == signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the server's graceful stop), then SIGKILL for whatever is left."""
        for process in self.started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 8
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Workers can outlive a master that died first; the group still names them.
        self.kill(signal.SIGKILL)

    def cpu_seconds(self) -> float:
        if self.process is None or self.process.poll() is not None:
            raise BenchError(f"{self.name} is not running; cannot read its CPU time")
        return cpu_seconds(self.process.pid)

    def memory_mib(self) -> dict[str, float]:
        """Resident memory of the master and its workers: the sum of RSS (pages shared
        between them counted once per process, so an upper bound) and the sum of PSS (shared
        pages divided among the processes: close to what a container's cgroup is charged)."""
        if self.process is None or self.process.poll() is not None:
            raise BenchError(f"{self.name} is not running; cannot read its memory")
        pids = process_tree(self.process.pid)
        rss = sum(proc_kib(pid, "status", "VmRSS") for pid in pids)
        pss = sum(proc_kib(pid, "smaps_rollup", "Pss") for pid in pids)
        return {
            "rss": round(rss / 1024, 1),
            "pss": round(pss / 1024, 1),
            "processes": len(pids),
        }


def cpu_seconds(root: int) -> float:
    """CPU time of a process tree so far, including its reaped children (recycled workers)."""
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime (fields 14-17 of proc(5); 3 is the first here)
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the parent pid is 2 fields after it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def proc_kib(pid: int, filename: str, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/{filename}").read_text()
    except OSError:
        return 0  # exited between listing and reading
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def stack_cpu_seconds(services: list[Service]) -> float:
    return sum(service.cpu_seconds() for service in services)


@dataclass
class NodeService(Service):
    """One process of the Node reference: `node <script> <args>` with the modules npm ci put
    in var/bench-reference/ (NODE_PATH), so nothing is written beside the scripts."""

    script_args: tuple[str, ...] = ()

    def full_env(self) -> dict[str, str]:
        return {**self.env, "PORT": str(self.port)}

    def command(self) -> list[str]:
        return [node_binary(), *self.script_args]

    def cwd(self) -> Path:
        return REFERENCE_DIR


def node_binary() -> str:
    path = shutil.which("node")
    if path is None:
        raise BenchError("node is not installed (Node 18+; Debian: apt-get install nodejs npm)")
    return path


def reference_modules() -> Path:
    """`npm ci` of scripts/bench/reference/ into var/bench-reference/<hash of its lock>/, once
    per lock file; returns the node_modules directory."""
    node_binary()
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed (Debian: apt-get install npm)")
    manifests = [REFERENCE_DIR / "package.json", REFERENCE_DIR / "package-lock.json"]
    key = hashlib.sha256(b"".join(path.read_bytes() for path in manifests)).hexdigest()[:16]
    home = ROOT / "var" / "bench-reference" / key
    marker = home / ".installed"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        for path in manifests:
            shutil.copyfile(path, home / path.name)
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=home,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise BenchError(f"npm ci of the reference failed:\n{result.stderr[-2000:]}")
        marker.touch()
    return home / "node_modules"


class Group:
    """Services started together (each then waited for) and stopped together."""

    services: list[Service]

    def start(self) -> None:
        for service in self.services:
            service.start()
        for service in self.services:
            service.wait_ready()

    def stop(self) -> None:
        for service in self.services:
            service.stop()


class Reference(Group):
    """The Node original: verbs and nouns APIs and the aggregator, on loopback."""

    def __init__(self, work: Path, modules: Path) -> None:
        base = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NODE_PATH": str(modules),
            "NODE_ENV": "production",
        }

        def node(name: str, *args: str, env: dict[str, str] | None = None) -> NodeService:
            service = NodeService(name, "", {**base, **(env or {})}, work, script_args=args)
            service.ready_path = "/random"
            return service

        self.verbs = node("reference-verbs", "word-api.js", "verb")
        self.nouns = node("reference-nouns", "word-api.js", "noun")
        upstreams = {"VERB_API_URL": self.verbs.url, "NOUN_API_URL": self.nouns.url}
        self.aggregator = node("reference-aggregator", "aggregator.js", env=upstreams)
        self.services = [self.verbs, self.nouns, self.aggregator]


class Stack(Group):
    """verbs, nouns and the aggregator, on fresh SQLite databases in a temporary directory;
    everything goes away with the context."""

    def __init__(self, work: Path) -> None:
        self.work = work
        secret = secrets.token_urlsafe(50)
        # The server's knobs (WORDMIX_SERVER_*, WORDMIX_ACCESS_LOG) reach the services; the
        # app's own settings come from here only.
        base = {
            key: value
            for key, value in os.environ.items()
            if key.startswith(("WORDMIX_SERVER_", "WORDMIX_ACCESS_LOG"))
            or not key.startswith(("DJANGO_", "WORDMIX_", "DATABASE_URL", "VERBS_", "NOUNS_"))
        }
        base.update(
            DJANGO_SECRET_KEY=secret,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        self.admin_user = "bench"
        self.admin_password = secrets.token_urlsafe(24)
        self.verbs = self._word_service("verbs", base)
        self.nouns = self._word_service("nouns", base)
        upstreams = {"VERBS_URL": self.verbs.url, "NOUNS_URL": self.nouns.url}
        self.aggregator = Service(
            "aggregator", "wordmix.settings.aggregator", {**base, **upstreams}, work
        )
        self.services = [self.verbs, self.nouns, self.aggregator]
        self.token = ""

    def _word_service(self, name: str, base: dict[str, str]) -> Service:
        env = {**base, "DATABASE_URL": f"sqlite:///{self.work / f'{name}.sqlite3'}"}
        return Service(name, f"wordmix.settings.{name}", env, self.work)

    def manage(self, service: Service, *args: str, extra: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**service.full_env(), **(extra or {})},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BenchError(
                f"manage.py {' '.join(args)} failed for {service.name}:\n{result.stderr[-2000:]}"
            )
        return result.stdout

    def prepare(self) -> None:
        collect = {
            **self.aggregator.full_env(),
            "DJANGO_SETTINGS_MODULE": "wordmix.settings.collect",
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=collect,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BenchError(f"collectstatic failed:\n{result.stderr[-2000:]}")
        admin = {
            "WORDMIX_ADMIN_USER": self.admin_user,
            "WORDMIX_ADMIN_PASSWORD": self.admin_password,
        }
        for service in (self.verbs, self.nouns):
            self.manage(service, "migrate", "--noinput", "-v", "0")
            self.manage(service, "ensure_admin", extra=admin)
        out = self.manage(self.nouns, "drf_create_token", self.admin_user)
        match = re.search(r"Generated token (\w+)", out)
        if not match:
            raise BenchError(f"drf_create_token said {out!r}, not a token")
        self.token = match.group(1)


# -- load ------------------------------------------------------------------------------------


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed: apt-get install wrk")
    return path


def wrk(
    url: str, seconds: float, *, connections: int = CONNECTIONS, statuses: bool = False
) -> dict[str, Any]:
    """One wrk run; returns the JSON that scripts/bench/*.lua print in done()."""
    script = LUA_DIR / ("statuses.lua" if statuses else "summary.lua")
    command = [wrk_binary(), f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--timeout", "5s", "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    lines = [line for line in result.stdout.splitlines() if line.startswith("WRKJSON ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    data: dict[str, Any] = json.loads(lines[-1].removeprefix("WRKJSON "))
    seconds_run = data["duration_us"] / 1e6
    errors = data["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    return {
        "url": url,
        "connections": connections,
        "requests": data["requests"],
        "seconds": round(seconds_run, 3),
        "rps": round(data["requests"] / seconds_run, 1),
        "p50_ms": round(data["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(data["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(data["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(data["latency_us"]["max"] / 1000, 2),
        "socket_errors": socket_errors,
        "non_2xx": errors["status"],
        "errors": socket_errors + errors["status"],
        "error_detail": errors,
        "counts": data.get("counts") or {},
    }


PATHS = {"ceiling": "/api/v1/ping/", "mix": "/api/v1/mix/", "reference": "/random"}


def combine(name: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per measure from several rounds: throughput over all of them; latency
    percentiles (which cannot be merged exactly) as the median of the rounds'."""

    def median(key: str) -> float:
        values = sorted(float(run[key]) for run in rounds)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    requests_ = sum(run["requests"] for run in rounds)
    seconds = sum(run["seconds"] for run in rounds)
    cpu = sum(run["cpu_s"] for run in rounds)
    return {
        "path": PATHS[name],
        "connections": rounds[0]["connections"],
        "requests": requests_,
        "seconds": round(seconds, 3),
        "rps": round(requests_ / seconds, 1),
        # Every process of the stack that answered (ours: the three services).
        "cpu_us_per_request": round(cpu / max(requests_, 1) * 1e6),
        "p50_ms": round(median("p50_ms"), 2),
        "p90_ms": round(median("p90_ms"), 2),
        "p99_ms": round(median("p99_ms"), 2),
        "max_ms": max(run["max_ms"] for run in rounds),
        "socket_errors": sum(run["socket_errors"] for run in rounds),
        "non_2xx": sum(run["non_2xx"] for run in rounds),
        "errors": sum(run["errors"] for run in rounds),
        "rounds": [
            {key: run[key] for key in ("rps", "p50_ms", "p99_ms", "errors")} for run in rounds
        ],
    }


def new_word() -> str:
    return "bench" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def measure_freshness(stack: Stack, trials: int, limit_s: float = 5.0) -> list[float | None]:
    """Adds a noun through the API (token of a staff user) and asks for mixes until one holds
    it. Every request opens a new connection, so any worker may answer, as for real clients."""
    results: list[float | None] = []
    headers = {"Authorization": f"Token {stack.token}"}
    for _ in range(trials):
        word = new_word()
        response = requests.post(
            f"{stack.nouns.url}/api/v1/nouns/", json={"text": word}, headers=headers, timeout=5
        )
        if response.status_code != 201:
            raise BenchError(f"adding a noun answered {response.status_code}: {response.text}")
        added = time.monotonic()
        seen: float | None = None
        while time.monotonic() - added < limit_s:
            answer = requests.get(f"{stack.aggregator.url}/api/v1/mix/", timeout=5)
            if answer.status_code == 200 and answer.json().get("noun") == word:
                seen = time.monotonic() - added
                break
        results.append(None if seen is None else round(seen, 3))
        # Start the next trial at another point of the cache's lifetime.
        time.sleep(0.1 + secrets.randbelow(500) / 1000)
    return results


@dataclass
class FaultTimeline:
    """What a plain client saw during the fault run, and when the fault's steps happened."""

    started: float = 0.0
    killed: float | None = None
    restarted: float | None = None
    ready: float | None = None
    polls: list[tuple[float, int, float, bool]] = field(default_factory=list)
    error: str | None = None

    def first_good_after_ready(self) -> float | None:
        if self.ready is None:
            return None
        for at, status, _, _ in self.polls:
            if at >= self.ready and status == 200:
                return at
        return None


def fault_run(stack: Stack, plan: Plan) -> dict[str, Any]:
    """Load on /api/v1/mix/ while nouns is SIGKILLed, kept down, restarted; counts answers."""
    timeline = FaultTimeline(started=time.monotonic())
    stop = threading.Event()

    def poll() -> None:
        # A fresh connection per request, so a dropped connection would show here too.
        while not stop.is_set():
            sent = time.monotonic()
            try:
                answer = requests.get(f"{stack.aggregator.url}/api/v1/mix/", timeout=5)
                status = answer.status_code
                problem = answer.headers.get("Content-Type", "").startswith(
                    "application/problem+json"
                )
            except requests.RequestException:
                status, problem = 0, False
            done = time.monotonic()
            timeline.polls.append((done, status, done - sent, problem))
            stop.wait(0.01)

    def fault() -> None:
        try:
            time.sleep(plan.fault_kill_at_s)
            timeline.killed = time.monotonic()
            stack.nouns.kill(signal.SIGKILL)
            time.sleep(plan.fault_down_s)
            timeline.restarted = time.monotonic()
            stack.nouns.start()
            timeline.ready = stack.nouns.wait_ready()
        except BaseException as error:  # reported with the results, by the main thread
            timeline.error = repr(error)

    poller = threading.Thread(target=poll, daemon=True)
    faulter = threading.Thread(target=fault, daemon=True)
    poller.start()
    faulter.start()
    try:
        load = wrk(f"{stack.aggregator.url}/api/v1/mix/", plan.fault_load_s, statuses=True)
        faulter.join(timeout=30)
        # The recovery must be seen even when it comes after wrk's run.
        deadline = time.monotonic() + 10
        while timeline.first_good_after_ready() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(timeout=10)
    if timeline.error:
        raise BenchError(f"the fault run could not restart nouns: {timeline.error}")

    counts = load["counts"]
    poll_failures = [p for p in timeline.polls if p[1] != 200]
    poll_non_problem = [p for p in poll_failures if p[1] not in (503, 504) or not p[3]]
    first_good = timeline.first_good_after_ready()
    assert timeline.ready is not None and timeline.killed is not None
    return {
        "load": load,
        "statuses": {k: v for k, v in counts.items() if k.isdigit()},
        "problem_failures": counts.get("problem_failures", 0),
        # Anything but a 503/504 problem answer, including connections reset or refused.
        "non_problem_failures": counts.get("non_problem_failures", 0)
        + load["socket_errors"]
        + len(poll_non_problem),
        "poller_requests": len(timeline.polls),
        "poller_failures": len(poll_failures),
        "down_s": round(timeline.ready - timeline.killed, 3),
        "recovery_s": None if first_good is None else round(first_good - timeline.ready, 3),
        "timeline": {
            "killed_s": round(timeline.killed - timeline.started, 3),
            "restarted_s": round((timeline.restarted or 0) - timeline.started, 3),
            "ready_s": round(timeline.ready - timeline.started, 3),
            "first_good_s": None if first_good is None else round(first_good - timeline.started, 3),
            "polls": [
                [round(at - timeline.started, 3), status, round(took * 1000, 1)]
                for at, status, took, _ in timeline.polls
            ],
        },
    }


# -- report ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(
        [wrk_binary(), "--version"], capture_output=True, text=True
    ).stdout.split(" [")[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version.strip(),
        "node": subprocess.run(
            [node_binary(), "--version"], capture_output=True, text=True
        ).stdout.strip(),
        # Other work on the machine shifts absolute figures; the ratios are measured in
        # alternating rounds to stand up to it.
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def server_settings(env: dict[str, str]) -> dict[str, Any]:
    """The configuration the services ran with, read from serve.py itself."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        settings: dict[str, Any] = runpy.run_path(str(SERVE_PY))["settings"]()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return settings


def check_targets(result: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) for each target of issues #6 and #12."""
    rss = result["rss_mib"]
    rows = [
        (
            "mix / ceiling",
            f"{result['mix_over_ceiling']:.3f}",
            f">= {MIN_MIX_OVER_CEILING}",
            result["mix_over_ceiling"] >= MIN_MIX_OVER_CEILING,
        ),
        (
            "mix p99 / ceiling p99",
            f"{result['mix_p99_ms'] / result['ceiling_p99_ms']:.2f}",
            f"<= {MAX_P99_FACTOR}",
            result["mix_p99_ms"] <= MAX_P99_FACTOR * result["ceiling_p99_ms"],
        ),
        ("errors (ceiling, mix)", str(result["errors"]), "0", result["errors"] == 0),
        (
            f"mix / reference req/s, c={CONNECTIONS}",
            f"{result['mix_over_reference']:.2f}",
            f">= {MIN_MIX_OVER_REFERENCE}",
            result["mix_over_reference"] >= MIN_MIX_OVER_REFERENCE,
        ),
        (
            f"CPU/answer mix / ref, c={CONNECTIONS}",
            f"{result['cpu_over_reference']:.2f}",
            f"<= {MAX_CPU_OVER_REFERENCE}",
            result["cpu_over_reference"] <= MAX_CPU_OVER_REFERENCE,
        ),
        (
            f"p99 mix / ref, c={CONNECTIONS}",
            f"{result['p99_over_reference']:.2f}",
            f"<= {MAX_P99_OVER_REFERENCE}",
            result["p99_over_reference"] <= MAX_P99_OVER_REFERENCE,
        ),
    ]
    for connections in OTHER_CONNECTIONS:
        load = result["by_connections"][str(connections)]
        rows.append(
            (
                f"mix / reference req/s, c={connections}",
                f"{load['mix_over_reference']:.2f}",
                f">= {MIN_MIX_OVER_REFERENCE_OTHER}",
                load["mix_over_reference"] >= MIN_MIX_OVER_REFERENCE_OTHER,
            )
        )
        rows.append(
            (f"errors (mix), c={connections}", str(load["errors"]), "0", load["errors"] == 0)
        )
    workers = result["server"]["workers"]
    rows.append(("worker processes per service", str(workers), "1", workers == 1))
    for name, mib in rss.items():
        rows.append((f"{name} RSS MiB", f"{mib:.1f}", f"<= {MAX_RSS_MIB}", mib <= MAX_RSS_MIB))
    fresh = result["freshness_s"]
    rows.append(
        (
            "freshness s (worst)",
            "never" if fresh is None else f"{fresh:.3f}",
            f"<= {MAX_FRESHNESS_S}",
            fresh is not None and fresh <= MAX_FRESHNESS_S,
        )
    )
    rows.append(
        (
            "fault: non-problem failures",
            str(result["fault_non_problem_failures"]),
            "0",
            result["fault_non_problem_failures"] == 0,
        )
    )
    rows.append(
        (
            "fault: answers that failed",
            str(result["fault"]["problem_failures"]),
            "> 0 (the outage was seen)",
            result["fault"]["problem_failures"] > 0,
        )
    )
    recovery = result["fault_recovery_s"]
    rows.append(
        (
            "fault: recovery s",
            "never" if recovery is None else f"{recovery:.3f}",
            f"<= {MAX_RECOVERY_S}",
            recovery is not None and recovery <= MAX_RECOVERY_S,
        )
    )
    return rows


LOADS = ("ceiling", "mix", "reference")


def print_table(result: dict[str, Any], rows: list[tuple[str, str, str, bool]]) -> None:
    print()
    print(
        f"{'load':<30}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'CPU us/answer':>15}"
    )
    for connections, loads in result["runs"].items():
        for name in LOADS:
            if name not in loads:
                continue
            run = loads[name]
            print(
                f"{name + ' ' + run['path']:<30}{connections:>6}{run['rps']:>9.0f}"
                f"{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}{run['errors']:>8}"
                f"{run['cpu_us_per_request']:>15}"
            )
    print()
    print(f"{'memory after load':<24}{'RSS MiB':>10}{'PSS MiB':>9}{'procs':>9}")
    for name, memory in result["memory"].items():
        print(f"{name:<24}{memory['rss']:>10.1f}{memory['pss']:>9.1f}{memory['processes']:>9}")
    fault = result["fault"]
    print()
    print(
        f"fault run: {fault['load']['requests']} answers {fault['statuses']}, nouns down "
        f"{fault['down_s']:.2f} s, freshness trials {result['freshness_trials_s']}"
    )
    print()
    print(f"{'target':<36}{'measured':>10}  {'wanted':<26}")
    for what, measured, wanted, met in rows:
        print(f"{what:<36}{measured:>10}  {wanted:<26}{'ok' if met else 'MISSED'}")


def require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise BenchError(
            f"matplotlib is missing from {sys.executable}: it is a dev dependency "
            "(requirements/dev.txt), so `make venv`, or `.venv/bin/pip install matplotlib`"
        ) from None
    return matplotlib


COLOURS = {"ceiling": "#7f7f7f", "mix": "#1f77b4", "reference": "#ff7f0e"}


def _grouped_bars(ax: Any, result: dict[str, Any], key: str, fmt: str) -> None:
    """One group per connection count, one bar per load measured at it."""
    runs = result["runs"]
    width = 0.27
    groups = list(runs)
    for offset, name in enumerate(LOADS):
        xs = [i + (offset - 1) * width for i, c in enumerate(groups) if name in runs[c]]
        values = [runs[c][name][key] for c in groups if name in runs[c]]
        if values:
            bars = ax.bar(xs, values, width, color=COLOURS[name], label=name)
            ax.bar_label(bars, fmt=fmt, fontsize=7)
    ax.set_xticks(range(len(groups)), [f"{c} connections" for c in groups])
    ax.legend(fontsize=8)


def plot(result: dict[str, Any], path: Path) -> None:
    matplotlib = require_matplotlib()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplot_mosaic(
        [["rps", "p99", "cpu"], ["memory", "fault", "fault"]], figsize=(16, 9)
    )
    ax = axes["rps"]
    _grouped_bars(ax, result, "rps", "%.0f")
    ax.set_title(
        f"throughput (req/s); mix / reference at {CONNECTIONS}: {result['mix_over_reference']:.2f}x"
    )
    ax = axes["p99"]
    _grouped_bars(ax, result, "p99_ms", "%.0f")
    ax.set_title(f"p99 latency (ms); mix / reference: {result['p99_over_reference']:.2f}")
    ax = axes["cpu"]
    _grouped_bars(ax, result, "cpu_us_per_request", "%.0f")
    ax.set_title(
        f"CPU per answer, whole stack (us); mix / reference: {result['cpu_over_reference']:.2f}"
    )

    ax = axes["memory"]
    memory = result["memory"]
    labels = list(memory)
    width = 0.38
    rss = ax.bar(
        [x - width / 2 for x in range(len(labels))], [memory[n]["rss"] for n in labels], width
    )
    pss = ax.bar(
        [x + width / 2 for x in range(len(labels))], [memory[n]["pss"] for n in labels], width
    )
    ax.bar_label(rss, fmt="%.0f", fontsize=7)
    ax.bar_label(pss, fmt="%.0f", fontsize=7)
    ax.axhline(MAX_RSS_MIB, color="red", linestyle="--", linewidth=1)
    ax.set_xticks(
        range(len(labels)), [n.replace("reference-", "ref.\n") for n in labels], fontsize=7
    )
    ax.legend([rss, pss], ["RSS sum", "PSS sum"], fontsize=8)
    ax.set_title(f"memory after load (MiB; limit {MAX_RSS_MIB})")

    ax = axes["fault"]
    timeline = result["fault"]["timeline"]
    polls = timeline["polls"]
    for status, colour in ((200, "#2ca02c"), (503, "#d62728"), (504, "#9467bd")):
        points = [(at, took) for at, code, took in polls if code == status]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, s=6, color=colour, label=str(status))
    other = [(at, took) for at, code, took in polls if code not in (200, 503, 504)]
    if other:
        xs, ys = zip(*other, strict=True)
        ax.scatter(xs, ys, s=12, color="black", marker="x", label="other")
    for key, label, style in (
        ("killed_s", "nouns killed", ":"),
        ("ready_s", "nouns ready", "--"),
        ("first_good_s", "first good mix", "-"),
    ):
        if timeline.get(key) is not None:
            ax.axvline(timeline[key], color="black", linestyle=style, linewidth=1, label=label)
    fault = result["fault"]
    recovery = fault["recovery_s"]
    ax.text(
        0.99,
        0.97,
        f"wrk answers by status: {fault['statuses']}\n"
        f"non-problem failures: {fault['non_problem_failures']}\n"
        f"nouns ready -> first good mix: " + ("never" if recovery is None else f"{recovery:.2f} s"),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#cccccc"},
    )
    ax.set_xlabel("s since the load started")
    ax.set_ylabel("client latency (ms)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("fault run: a client's /api/v1/mix/ answers under load")

    info = result["machine"]
    server = result["server"]
    fig.suptitle(
        f"wordmix bench {'(smoke) ' if result['smoke'] else ''}- {info['nproc']} cores "
        f"{info['cpu']}, {server['name']} {server['workers']} worker x {server['threads']} "
        f"threads, wrk -t{WRK_THREADS}, reference: Node {info['node']} express 4, "
        f"load average {info['load_average_at_start'][0]:.1f} at start, "
        f"targets {'met' if result['targets_met'] else 'MISSED'}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- main ------------------------------------------------------------------------------------


class Stopped(Exception):
    """Someone stopped the run (a signal); not an error of the bench."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stopped_on_signals() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP end the run through the cleanup in `finally`. SIGINT is
    set here too: a shell starting the bench in the background leaves it ignored."""

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def leave(signum: int, _frame: object) -> None:
        # Once is enough: a second Ctrl-C must not cut the cleanup short.
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, leave) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def measure_loads(plan: Plan, stack: Stack, reference: Reference) -> dict[str, dict[str, Any]]:
    """Every load in alternating rounds; CPU per answer over every process of the stack that
    answered, which other work on a shared machine disturbs far less than req/s."""
    agg = stack.aggregator.url
    loads: dict[str, tuple[str, list[Service]]] = {
        "ceiling": (agg + PATHS["ceiling"], stack.services),
        "mix": (agg + PATHS["mix"], stack.services),
        "reference": (reference.aggregator.url + PATHS["reference"], reference.services),
    }
    for url, _ in loads.values():
        wrk(url, plan.warmup_s)
    schedule: list[tuple[int, tuple[str, ...], int]] = [(CONNECTIONS, LOADS, plan.rounds)]
    schedule += [(c, ("mix", "reference"), plan.other_rounds) for c in OTHER_CONNECTIONS]
    runs: dict[str, dict[str, Any]] = {}
    for connections, names, rounds in schedule:
        print(
            f"bench: {', '.join(names)} at {connections} connections, {rounds} alternating "
            f"rounds of {plan.round_s:g} s",
            flush=True,
        )
        measured: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                url, services = loads[name]
                before = stack_cpu_seconds(services)
                run = wrk(url, plan.round_s, connections=connections)
                run["cpu_s"] = stack_cpu_seconds(services) - before
                measured[name].append(run)
        runs[str(connections)] = {name: combine(name, measured[name]) for name in names}
    return runs


def run(plan: Plan, smoke: bool, out_dir: Path) -> int:
    wrk_binary()
    require_matplotlib()
    if not SERVE_PY.exists():
        raise BenchError(f"{SERVE_PY} is missing: the bench runs the images' server")
    began = time.monotonic()
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    out_dir.mkdir(parents=True, exist_ok=True)
    print("bench: installing the Node reference (npm ci, once per lock file)", flush=True)
    modules = reference_modules()
    work = Path(tempfile.mkdtemp(prefix="wordmix-bench-"))
    stack = Stack(work)
    reference = Reference(work, modules)
    try:
        print(f"bench: preparing databases and static files in {work}", flush=True)
        stack.prepare()
        print("bench: starting verbs, nouns, aggregator and the Node reference", flush=True)
        stack.start()
        reference.start()
        runs = measure_loads(plan, stack, reference)
        memory = {s.name: s.memory_mib() for s in (*stack.services, *reference.services)}
        print("bench: freshness", flush=True)
        freshness = measure_freshness(stack, plan.freshness_trials)
        print(f"bench: fault run for {plan.fault_load_s} s (nouns killed)", flush=True)
        fault = fault_run(stack, plan)
        server = server_settings(stack.aggregator.full_env())
    finally:
        stack.stop()
        reference.stop()
        shutil.rmtree(work, ignore_errors=True)

    main = runs[str(CONNECTIONS)]
    ceiling, mix, ref = main["ceiling"], main["mix"], main["reference"]
    by_connections = {
        connections: {
            "mix_rps": loads["mix"]["rps"],
            "reference_rps": loads["reference"]["rps"],
            "mix_over_reference": round(loads["mix"]["rps"] / loads["reference"]["rps"], 2),
            "mix_p99_ms": loads["mix"]["p99_ms"],
            "reference_p99_ms": loads["reference"]["p99_ms"],
            "mix_cpu_us_per_request": loads["mix"]["cpu_us_per_request"],
            "reference_cpu_us_per_request": loads["reference"]["cpu_us_per_request"],
            # Socket errors and non-2xx answers of the mix (ceiling too at CONNECTIONS).
            "errors": sum(run["errors"] for name, run in loads.items() if name != "reference"),
            "reference_errors": loads["reference"]["errors"],
        }
        for connections, loads in runs.items()
    }
    result: dict[str, Any] = {
        "ceiling_rps": ceiling["rps"],
        "mix_rps": mix["rps"],
        "reference_rps": ref["rps"],
        "mix_over_ceiling": round(mix["rps"] / ceiling["rps"], 3),
        "mix_over_reference": round(mix["rps"] / ref["rps"], 2),
        "ceiling_p99_ms": ceiling["p99_ms"],
        "mix_p99_ms": mix["p99_ms"],
        "reference_p99_ms": ref["p99_ms"],
        "p99_over_reference": round(mix["p99_ms"] / ref["p99_ms"], 3),
        "ceiling_cpu_us_per_request": ceiling["cpu_us_per_request"],
        "mix_cpu_us_per_request": mix["cpu_us_per_request"],
        "reference_cpu_us_per_request": ref["cpu_us_per_request"],
        "cpu_over_reference": round(mix["cpu_us_per_request"] / ref["cpu_us_per_request"], 3),
        # Socket errors and non-2xx answers of the ceiling and mix runs at CONNECTIONS.
        "errors": ceiling["errors"] + mix["errors"],
        "reference_errors": ref["errors"],
        "by_connections": by_connections,
        # The services of the contract; the reference's processes are in "memory".
        "rss_mib": {name: memory[name]["rss"] for name in ("aggregator", "verbs", "nouns")},
        "pss_mib": {name: memory[name]["pss"] for name in ("aggregator", "verbs", "nouns")},
        "freshness_s": None if None in freshness else max(freshness),  # type: ignore[type-var]
        "freshness_trials_s": freshness,
        "fault_non_problem_failures": fault["non_problem_failures"],
        "fault_recovery_s": fault["recovery_s"],
        "fault_statuses": fault["statuses"],
        "runs": runs,
        "memory": memory,
        "fault": fault,
        "server": server,
        "load_generator": {
            "tool": "wrk",
            "threads": WRK_THREADS,
            "connections": [CONNECTIONS, *OTHER_CONNECTIONS],
            "round_s": plan.round_s,
            "rounds": {str(CONNECTIONS): plan.rounds}
            | {str(c): plan.other_rounds for c in OTHER_CONNECTIONS},
        },
        "machine": machine() | {"load_average_at_start": load_at_start},
        "ports": {s.name: s.port for s in (*stack.services, *reference.services)},
        "smoke": smoke,
        "bench_seconds": round(time.monotonic() - began, 1),
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    rows = check_targets(result)
    result["targets"] = [
        {"what": what, "measured": measured, "wanted": wanted, "met": met}
        for what, measured, wanted, met in rows
    ]
    result["targets_met"] = all(met for *_, met in rows)
    (out_dir / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, out_dir / "bench.png")
    print_table(result, rows)
    print(f"\nwrote {out_dir / 'bench.json'} and {out_dir / 'bench.png'}", end="")
    print(f" in {result['bench_seconds']:.0f} s")
    if smoke or result["targets_met"]:
        return 0
    print("bench: a target of issue #6 or #12 was missed (see MISSED above)", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a second or two per phase; no target is checked"
    )
    parser.add_argument("--out-dir", type=Path, default=ROOT / "var", help="default: var/")
    args = parser.parse_args(argv)
    try:
        with stopped_on_signals():
            return run(SMOKE if args.smoke else FULL, args.smoke, args.out_dir)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except Stopped as stopped:
        print(f"bench: {stopped}; every process it started is stopped", file=sys.stderr)
        return 128 + stopped.signum


if __name__ == "__main__":
    sys.exit(main())
