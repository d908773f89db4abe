#!/usr/bin/env python3
"""`make run`: the three services in the foreground on SQLite, one log stream with the name
of the service on each line. Ctrl-C (or SIGTERM, or SIGHUP) stops all three, also while
it is still migrating, whatever signal dispositions it inherited."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
# The contract's ports; WORDMIX_RUN_PORT moves all three (the test of `make run` uses it).
BASE_PORT = int(os.environ.get("WORDMIX_RUN_PORT", "8000"))
SERVICES = [
    ("aggregator", BASE_PORT, "\033[35m"),
    ("verbs", BASE_PORT + 1, "\033[36m"),
    ("nouns", BASE_PORT + 2, "\033[33m"),
]
RESET = "\033[0m"


def service_env(service: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("WORDMIX_LOG_FORMAT", "text")
    env["DJANGO_SETTINGS_MODULE"] = f"wordmix.settings.{service}"
    env.setdefault("VERBS_URL", f"http://127.0.0.1:{BASE_PORT + 1}")
    env.setdefault("NOUNS_URL", f"http://127.0.0.1:{BASE_PORT + 2}")
    env.setdefault("WORDMIX_VERBS_ADMIN_URL", f"http://localhost:{BASE_PORT + 1}/admin/")
    env.setdefault("WORDMIX_NOUNS_ADMIN_URL", f"http://localhost:{BASE_PORT + 2}/admin/")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Stop(Exception):
    """Raised in the main thread by the first SIGINT, SIGTERM or SIGHUP."""


class Spawning:
    """While a child is being started, a stop signal waits until it is in `children`:
    raised in the middle of Popen, it could leave a child that nobody stops."""

    active = False
    pending: str | None = None


def on_signal(signum: int, _frame: FrameType | None) -> None:
    # Later signals arrive while stopping: the cleanup must not be cut short by them.
    for ignored in STOP_SIGNALS:
        signal.signal(ignored, signal.SIG_IGN)
    if Spawning.active:
        Spawning.pending = signal.Signals(signum).name
        return
    raise Stop(signal.Signals(signum).name)


# Set explicitly, whatever was inherited: a shell's background job starts with SIGINT
# ignored, and Python keeps an inherited SIG_IGN, so Ctrl-C would otherwise do nothing. A
# SIGHUP that was ignored on purpose (nohup) stays ignored.
STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM]
if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
    STOP_SIGNALS.append(signal.SIGHUP)

children: list[subprocess.Popen[str]] = []


def spawn(args: list[str], service: str, **kwargs: Any) -> subprocess.Popen[str]:
    """A child in a session of its own, so that stop_children reaches it and whatever it
    starts (runserver's autoreloader runs the server in a second process); it also keeps
    the terminal's Ctrl-C from reaching the children before this script decides."""
    Spawning.active = True
    try:
        process = subprocess.Popen(
            args, env=service_env(service), cwd=ROOT, text=True, start_new_session=True, **kwargs
        )
        children.append(process)
    finally:
        Spawning.active = False
    if Spawning.pending:
        raise Stop(Spawning.pending)
    return process


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_children(grace: float = 10.0) -> None:
    """SIGTERM (and SIGCONT, for a stopped one) to every child's process group, then
    SIGKILL to any group still there after `grace` seconds."""
    for process in children:
        for signum in (signal.SIGTERM, signal.SIGCONT):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(p.pid) for p in children):
        for process in children:
            process.poll()
        time.sleep(0.05)
    for process in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def manage(service: str, *args: str) -> None:
    process = spawn([sys.executable, str(ROOT / "manage.py"), *args], service)
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)


def pump(name: str, colour: str, stream: IO[str]) -> None:
    use_colour = sys.stdout.isatty()
    prefix = f"{colour}{name:>10} |{RESET} " if use_colour else f"{name:>10} | "
    for line in iter(stream.readline, ""):
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def main() -> int:
    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    try:
        exited = serve()
    except Stop as stop:
        print(f"\nstopping ({stop})…", flush=True)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"stopped: {' '.join(map(str, error.cmd[1:]))} failed", flush=True)
        return 1
    finally:
        stop_children()
    print(f"stopped: {', '.join(exited)} exited by itself (see above)")
    return 1


def serve() -> list[str]:
    """Migrate, start the three services; when one of them exits by itself, return the
    names of those that did."""
    var_dir = Path(os.environ.get("WORDMIX_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(exist_ok=True)
    for service in ("verbs", "nouns"):
        print(
            f"== {service}: migrating {var_dir / service}.sqlite3 (seeds the words once)",
            flush=True,
        )
        manage(service, "migrate", "--noinput", "-v", "0")
        manage(service, "ensure_admin")

    servers = []
    for service, port, colour in SERVICES:
        process = spawn(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}"],
            service,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        servers.append(process)
        threading.Thread(target=pump, args=(service, colour, process.stdout), daemon=True).start()

    print(
        "\nwordmix is starting:\n"
        f"  web page      http://localhost:{BASE_PORT}/\n"
        f"  verbs admin   http://localhost:{BASE_PORT + 1}/admin/"
        f"   (API: http://localhost:{BASE_PORT + 1}/api/v1/verbs/)\n"
        f"  nouns admin   http://localhost:{BASE_PORT + 2}/admin/"
        f"   (API: http://localhost:{BASE_PORT + 2}/api/v1/nouns/)\n"
        + (
            f"  log in as     {os.environ['WORDMIX_ADMIN_USER']} (WORDMIX_ADMIN_PASSWORD)\n"
            if os.environ.get("WORDMIX_ADMIN_USER") and os.environ.get("WORDMIX_ADMIN_PASSWORD")
            else "  to log in     stop, then run: WORDMIX_ADMIN_USER=admin "
            "WORDMIX_ADMIN_PASSWORD='choose-a-long-one' make run\n"
        )
        + "Ctrl-C stops all three.\n",
        flush=True,
    )
    while all(process.poll() is None for process in servers):
        with contextlib.suppress(subprocess.TimeoutExpired):
            servers[0].wait(timeout=0.5)
    return [s for (s, _, _), p in zip(SERVICES, servers, strict=True) if p.poll() is not None]


if __name__ == "__main__":
    sys.exit(main())
