"""kubectl against the local node of `make cluster-up`, for the live checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "scripts/cluster/node.sh"
NAMESPACE = "app"
T = TypeVar("T")


def kubectl_path() -> str:
    venv = ROOT / ".venv/bin/kubectl"
    return str(venv) if venv.exists() else "kubectl"


def kubeconfig() -> str:
    return subprocess.run(
        [str(NODE), "kubeconfig"], capture_output=True, text=True, check=True
    ).stdout.strip()


def env() -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": kubeconfig()}


def kubectl(
    *args: str, input: str | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [kubectl_path(), *args],
        input=input,
        capture_output=True,
        text=True,
        env=env(),
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def apply(manifest: dict[str, Any] | list[dict[str, Any]], *extra: str, check: bool = True):  # type: ignore[no-untyped-def]
    docs = manifest if isinstance(manifest, list) else [manifest]
    text = "\n---\n".join(json.dumps(doc) for doc in docs)
    return kubectl("apply", *extra, "-f", "-", input=text, check=check)


def pod_of(app: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    """The one running pod of a workload (label app=APP)."""
    pods = [
        pod
        for pod in get_json("pods", "-n", namespace, "-l", f"app={app}")["items"]
        if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
    ]
    assert pods, f"no running pod with app={app} in {namespace}"
    return pods[0]


def exec_in(
    pod: str,
    *command: str,
    container: str | None = None,
    namespace: str = NAMESPACE,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    args = ["exec", "-n", namespace, pod]
    if container:
        args += ["-c", container]
    return kubectl(*args, "--", *command, check=check, timeout=120)


def wait_until(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Polls PROBE until it returns something true; fails naming WHAT after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except (AssertionError, subprocess.SubprocessError, OSError) as error:
            last = error
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def port_forward(target: str, remote_port: int, namespace: str = NAMESPACE) -> Iterator[str]:
    """`kubectl port-forward TARGET` on a free local port; yields its base URL. The kubectl
    process runs in its own group and is killed with it whatever happens."""
    port = free_port()
    process = subprocess.Popen(
        [kubectl_path(), "-n", namespace, "port-forward", target, f"{port}:{remote_port}"],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def listening() -> bool:
            assert process.poll() is None, (
                f"port-forward {target} exited: {process.stderr.read()!r}"
            )  # type: ignore[union-attr]
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_until(f"port-forward to {target}", listening, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
