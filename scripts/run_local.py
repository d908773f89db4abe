#!/usr/bin/env python3
"""`make run`: the three services in the foreground on SQLite, one log stream with the name
of the service on each line. Ctrl-C stops all three."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

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


def manage(service: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=service_env(service),
        cwd=ROOT,
        check=True,
    )


def pump(name: str, colour: str, stream) -> None:  # type: ignore[no-untyped-def]
    use_colour = sys.stdout.isatty()
    prefix = f"{colour}{name:>10} |{RESET} " if use_colour else f"{name:>10} | "
    for line in iter(stream.readline, ""):
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def main() -> int:
    var_dir = Path(os.environ.get("WORDMIX_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(exist_ok=True)
    for service in ("verbs", "nouns"):
        print(f"== {service}: migrating {var_dir / service}.sqlite3 (seeds the words once)")
        manage(service, "migrate", "--noinput", "-v", "0")
        manage(service, "ensure_admin")

    processes: list[subprocess.Popen[str]] = []
    threads = []
    for service, port, colour in SERVICES:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}"],
            env=service_env(service),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # Ctrl-C is handled here, once, for all three
        )
        processes.append(process)
        thread = threading.Thread(target=pump, args=(service, colour, process.stdout), daemon=True)
        thread.start()
        threads.append(thread)

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
        + "Ctrl-C stops all three.\n"
    )

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(process.poll() is None for process in processes):
            with contextlib.suppress(subprocess.TimeoutExpired):
                processes[0].wait(timeout=0.5)
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        stop()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    failed = [
        s for (s, _, _), p in zip(SERVICES, processes, strict=True) if p.returncode not in (0, -15)
    ]
    if failed:
        print(f"stopped; {', '.join(failed)} exited with an error (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
