"""Processes started by the tests, and making sure none outlives its test.

Every process a test starts runs in a session (and so a process group) of its own, so that
stopping it reaches whatever it started too, and the tests never depend on the signal
dispositions they inherited. `stop` ends a process with its whole tree: SIGTERM to every
process group in it (with SIGCONT, so a stopped process gets it too), a generous grace
period, then SIGKILL for whatever is left, including descendants that left the group.

The session check (tests/conftest.py) finds what escaped anyway: every process started under
a pytest run inherits MARKER=<that run's id> in its environment, which /proc shows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "WORDMIX_TEST_SESSION"
PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    pgid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} (group {self.pgid}): {self.command}"


def _read_stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of pid, None when it is gone or a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[2])


def command(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def all_processes() -> list[ProcessInfo]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None:
                found.append(ProcessInfo(int(entry.name), stat[0], stat[1], ""))
    return found


def descendants(pid: int) -> list[ProcessInfo]:
    """Every live process below pid (children, grandchildren, ...)."""
    children: dict[int, list[ProcessInfo]] = {}
    for info in all_processes():
        children.setdefault(info.ppid, []).append(info)
    found: list[ProcessInfo] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def marked(value: str, exclude: Sequence[int] = (), marker: str = MARKER) -> list[ProcessInfo]:
    """Live processes whose environment holds marker=value: started under that run."""
    needle = f"{marker}={value}".encode()
    found = []
    for info in all_processes():
        if info.pid in exclude:
            continue
        try:
            environ = (PROC / str(info.pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(ProcessInfo(info.pid, info.ppid, info.pgid, command(info.pid)))
    return found


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def alive(pid: int) -> bool:
    return _read_stat(pid) is not None


def kill_all(processes: Sequence[ProcessInfo], grace: float = 10.0) -> None:
    """SIGTERM (and SIGCONT) each process, SIGKILL what is still there after grace seconds."""
    for info in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info.pid, signal.SIGTERM)
            os.kill(info.pid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p.pid) for p in processes):
        time.sleep(0.1)
    for info in processes:
        if alive(info.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(info.pid, signal.SIGKILL)


def stop(
    process: subprocess.Popen[Any], signum: int = signal.SIGTERM, grace: float = 30.0
) -> int | None:
    """Stop process and everything it started; returns its exit status (negative: the
    signal that ended it). The first signal goes to the process's own group; whatever has
    not ended after `grace` seconds (also descendants in other groups) gets SIGKILL."""
    tree = descendants(process.pid)
    if process.poll() is None or tree:
        _signal_group(process.pid, signum)
        _signal_group(process.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) != process.pid:  # not started by `start`
                process.send_signal(signum)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Anything below it that is still alive (it may have left the group, or ignore signum).
    tree = [p for p in {*tree, *descendants(process.pid)} if alive(p.pid)]
    deadline = time.monotonic() + (grace if process.returncode is not None else 0)
    while tree and time.monotonic() < deadline:
        time.sleep(0.1)
        tree = [p for p in tree if alive(p.pid)]
    _signal_group(process.pid, signal.SIGKILL)
    for info in tree:
        _signal_group(info.pgid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info.pid, signal.SIGKILL)
    if process.returncode is None:
        process.wait()
    return process.returncode


def start(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """subprocess.Popen in a session of its own: `stop` can reach its whole tree, and a
    Ctrl-C at the terminal reaches only the test run, which stops it itself."""
    return subprocess.Popen(args, start_new_session=True, **kwargs)


@contextlib.contextmanager
def started(args: Sequence[str], **kwargs: Any) -> Iterator[subprocess.Popen[Any]]:
    """`start`, and `stop` whatever happens in the block (failure, timeout, Ctrl-C)."""
    process = start(args, **kwargs)
    try:
        yield process
    finally:
        stop(process)


def run(
    args: Sequence[str],
    *,
    timeout: float | None = None,
    check: bool = False,
    capture_output: bool = False,
    input: str | bytes | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """subprocess.run, except that a timeout (or any exception, Ctrl-C included) stops the
    command's whole tree, not only the command: subprocess.run kills the child alone and
    leaves what it started running."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    process = start(args, **kwargs)
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        stop(process, grace=10)
        raise subprocess.TimeoutExpired(
            process.args, expired.timeout, expired.output, expired.stderr
        ) from None
    except BaseException:
        stop(process, grace=10)
        raise
    finally:
        for stream in (process.stdout, process.stderr, process.stdin):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
