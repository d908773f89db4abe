"""`make run`: the three services in the foreground, one prefixed log stream, seeded once,
an admin user from the environment, and Ctrl-C or SIGTERM stopping everything, whatever
signal dispositions it inherited and whether it is serving or still migrating."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests import processes
from tests.app.upstreams import ROOT, free_port

pytestmark = pytest.mark.integration

RUN_LOCAL = [sys.executable, str(ROOT / "scripts" / "run_local.py")]
# How a shell starts a background job, or nohup a command: SIGINT ignored, which the child
# inherits (trap "" sets SIG_IGN, and exec keeps it).
WITH_SIGINT_IGNORED = ["bash", "-c", 'trap "" INT; exec "$@"', "sigint-ignored"]
DEADLINE = 120.0  # generous: a loaded machine is slow, and nothing here measures speed


class Run:
    """scripts/run_local.py as a child of the test, its output collected line by line."""

    def __init__(self, tmp_path: Path, port: int, prefix: list[str] | None = None) -> None:
        env = {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))
            },
            "WORDMIX_RUN_PORT": str(port),
            "WORDMIX_VAR_DIR": str(tmp_path),
            "WORDMIX_ADMIN_USER": "admin",
            "WORDMIX_ADMIN_PASSWORD": "make-run-test-password-42",
        }
        self.port = port
        self.lines: list[str] = []
        self.process = processes.start(
            [*(prefix or []), *RUN_LOCAL],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(
            target=lambda: self.lines.extend(iter(self.process.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        ).start()
        self.tree: set[int] = set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def remember_tree(self) -> None:
        """Note every process below run_local.py: each must be gone once it stopped."""
        self.tree |= {p.pid for p in processes.descendants(self.process.pid)}

    def wait_for_mix(self) -> dict[str, str]:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited:\n{self.output}"
            try:
                response = requests.get(f"http://127.0.0.1:{self.port}/api/v1/mix/", timeout=30)
                if response.status_code == 200:
                    self.remember_tree()
                    return response.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"make run did not serve a mix in {DEADLINE:.0f} s:\n{self.output}")

    def signal_and_wait(self, signum: int) -> int:
        """What Ctrl-C (SIGINT) or a service manager (SIGTERM) does: signal run_local.py
        alone; it must stop by itself, and every process it started must be gone."""
        self.remember_tree()
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"make run did not stop on {signal.Signals(signum).name}:\n{self.output}"
            ) from None
        left = [processes.command(p) for p in self.tree if processes.alive(p)]
        assert not left, f"still running after make run stopped: {left}\n{self.output}"
        return code

    def close(self) -> None:
        """Whatever the test did: nothing of this run survives it."""
        self.remember_tree()
        processes.stop(self.process)
        processes.kill_all([p for p in processes.all_processes() if p.pid in self.tree])


def assert_ports_closed(port: int) -> None:
    for child_port in (port, port + 1, port + 2):  # all three are gone
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{child_port}/healthz", timeout=30)


def test_make_run_serves_logs_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    run = Run(tmp_path, port)
    try:
        mix = run.wait_for_mix()
        assert mix["verb"] and mix["noun"]
        words = requests.get(f"http://127.0.0.1:{port + 2}/all", timeout=30).json()["nouns"]
        assert len(words) == 15
        login = requests.get(f"http://127.0.0.1:{port + 1}/admin/login/", timeout=30)
        assert login.status_code == 200
        assert run.signal_and_wait(signal.SIGINT) == 0, run.output
    finally:
        run.close()
    output = run.output
    assert f"http://localhost:{port}/" in output  # where the page is
    assert f"http://localhost:{port + 1}/admin/" in output
    assert "Admin user 'admin' created." in output
    for service in ("aggregator", "verbs", "nouns"):
        assert f"{service:>10} | " in output, f"no log line from {service}"
    assert_ports_closed(port)

    # A second start: the seed is not added twice, the admin user is only updated.
    run = Run(tmp_path, port)
    try:
        run.wait_for_mix()
        words = requests.get(f"http://127.0.0.1:{port + 2}/all", timeout=30).json()["nouns"]
        assert len(words) == 15
        assert run.signal_and_wait(signal.SIGINT) == 0, run.output
    finally:
        run.close()
    assert "Admin user 'admin' updated." in run.output


def test_the_test_really_starts_it_with_sigint_ignored() -> None:
    """The wrapper below must give the child SIGINT=SIG_IGN, or the next test proves nothing."""
    probe = subprocess.run(
        [
            *WITH_SIGINT_IGNORED,
            sys.executable,
            "-c",
            "import signal; print(signal.getsignal(2) == signal.SIG_IGN)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=DEADLINE,
    )
    assert probe.stdout.strip() == "True"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_stops_when_started_with_sigint_ignored(tmp_path: Path, signum: int) -> None:
    port = free_port()
    run = Run(tmp_path, port, prefix=WITH_SIGINT_IGNORED)
    try:
        run.wait_for_mix()
        assert run.signal_and_wait(signum) == 0, run.output
    finally:
        run.close()
    assert "stopping" in run.output
    assert_ports_closed(port)


def test_ctrl_c_while_migrating_stops_it_with_every_child(tmp_path: Path) -> None:
    """Ctrl-C while the first migration runs. The migration is frozen (SIGSTOP) once it
    shows up, so the Ctrl-C lands in the middle of it however fast or slow the machine
    is; make run must still stop it (SIGTERM and SIGCONT to its group) and start nothing."""
    run = Run(tmp_path, free_port(), prefix=WITH_SIGINT_IGNORED)
    try:
        deadline = time.monotonic() + DEADLINE
        migrate = None
        while migrate is None and time.monotonic() < deadline:
            assert run.process.poll() is None, run.output
            migrate = next(
                (
                    p.pid
                    for p in processes.descendants(run.process.pid)
                    if "migrate" in processes.command(p.pid)
                ),
                None,
            )
            time.sleep(0.02)
        assert migrate is not None, f"no migration seen:\n{run.output}"
        os.kill(migrate, signal.SIGSTOP)
        assert run.signal_and_wait(signal.SIGINT) == 0, run.output
        assert not processes.alive(migrate)
    finally:
        run.close()
    assert "== verbs: migrating" in run.output
    assert "wordmix is starting" not in run.output  # stopped before any server started
    assert "== nouns: migrating" not in run.output
