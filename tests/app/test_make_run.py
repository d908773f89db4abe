"""`make run`: the three services in the foreground, one prefixed log stream, seeded once,
an admin user from the environment, and Ctrl-C stopping everything."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.app.upstreams import ROOT, free_port

pytestmark = pytest.mark.integration


def start(tmp_path: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "WORDMIX_RUN_PORT": str(port),
        "WORDMIX_VAR_DIR": str(tmp_path),
        "WORDMIX_ADMIN_USER": "admin",
        "WORDMIX_ADMIN_PASSWORD": "make-run-test-password-42",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_local.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    return process, lines


def wait_for_mix(port: int, timeout: float = 40.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"http://127.0.0.1:{port}/api/v1/mix/", timeout=2)
            if response.status_code == 200:
                return response.json()
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError("make run did not serve a mix in time")


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    return process.wait(timeout=20)


def test_make_run_serves_logs_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process, lines = start(tmp_path, port)
    try:
        mix = wait_for_mix(port)
        assert mix["verb"] and mix["noun"]
        words = requests.get(f"http://127.0.0.1:{port + 2}/all", timeout=2).json()["nouns"]
        assert len(words) == 15
        login = requests.get(f"http://127.0.0.1:{port + 1}/admin/login/", timeout=2)
        assert login.status_code == 200
    finally:
        code = stop(process)
    output = "".join(lines)
    assert code == 0, output
    assert f"http://localhost:{port}/" in output  # where the page is
    assert f"http://localhost:{port + 1}/admin/" in output
    assert "Admin user 'admin' created." in output
    for service in ("aggregator", "verbs", "nouns"):
        assert f"{service:>10} | " in output, f"no log line from {service}"
    for child_port in (port, port + 1, port + 2):  # all three are gone
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{child_port}/healthz", timeout=1)

    # A second start: the seed is not added twice, the admin user is only updated.
    process, lines = start(tmp_path, port)
    try:
        wait_for_mix(port)
        words = requests.get(f"http://127.0.0.1:{port + 2}/all", timeout=2).json()["nouns"]
        assert len(words) == 15
    finally:
        assert stop(process) == 0
    assert "Admin user 'admin' updated." in "".join(lines)
