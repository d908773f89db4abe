#!/usr/bin/env python3
"""`make test`: every part of the suite, each its own make target, one after another
whatever the others did. At the end a table (part, result, duration, pytest's counts),
the "NOT RUN here: <what> — <why>" lines the parts printed, and one line summed over the
parts, `test: N passed, N failed`; the exit status is 1 if any part failed.

    scripts/test_all.py                  every part
    scripts/test_all.py test-app audit   only these (any of PARTS)

A part is a make target; adding one is adding its name to PARTS. A part may print
"NOT RUN here: <what> — <why>" for something this machine cannot do; the summary repeats it.

Whatever a part started and left running is found by an environment marker every process
under the run inherits, named, killed, and fails that part.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import kill_all, marked  # noqa: E402 - the repository root is on the path now

# The parts, in the order they run (quick ones first). Each is a make target of its own.
PARTS = [
    "lint",
    "test-app",
    "test-app-postgres",
    "test-bench",
    "test-deploy",
    "test-security",
    "test-images",
    "audit",
    # Last and longest: a real one-node Kubernetes here, make deploy and the live checks on it
    # (the first run builds the cluster from the Go module proxy).
    "e2e",
]
RUN_MARKER = "WORDMIX_TEST_RUN"
# pytest's closing line, with or without -q: "== 3 failed, 40 passed, 1 error in 12.3s =="
PYTEST_CLOSING = re.compile(
    r"^=*\s*(?P<counts>\d+ [a-z]+(?:, \d+ [a-z]+)*) in [\d.]+s(?: \([\d:.]+\))?\s*=*$"
)
COUNT = re.compile(r"(\d+) ([a-z]+)")
NOT_RUN = re.compile(r"NOT RUN here: (?P<what>.+)$")


@dataclass
class Result:
    part: str
    status: str = "not run"  # passed, failed, not run
    seconds: float = 0.0
    closing: list[str] = field(default_factory=list)  # pytest's closing lines, as printed
    counts: dict[str, int] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def count(self, *names: str) -> int:
        return sum(self.counts.get(name, 0) for name in names)


class Runner:
    """Runs parts in a process group of their own; a stop signal goes to the running part
    (SIGINT first, so pytest tears its fixtures down; SIGTERM, then SIGKILL, if repeated)."""

    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex
        self.current: subprocess.Popen[str] | None = None
        self.signals = 0

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        forward = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL][min(self.signals, 3) - 1]
        print(
            f"\n[test] {signal.Signals(signum).name}: stopping the running part "
            f"({forward.name}); the remaining parts will not run",
            flush=True,
        )
        if self.current is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.current.pid, forward)

    def run(self, part: str, command: list[str] | None = None) -> Result:
        """Run one part (`make <part>`, unless given another command) and report on it."""
        result = Result(part)
        env = {**os.environ, RUN_MARKER: self.run_id, "PYTHONUNBUFFERED": "1"}
        started = time.monotonic()
        self.current = subprocess.Popen(
            command or ["make", "--no-print-directory", part],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        stdout = self.current.stdout
        assert stdout is not None
        # Read in a thread: a process the part left behind may hold its output open, and the
        # part is over when its command exits, not when that process does.
        reader = threading.Thread(target=self.read, args=(stdout, result), daemon=True)
        reader.start()
        result.exit_code = self.current.wait()
        self.current = None
        result.seconds = time.monotonic() - started
        reader.join(timeout=3)
        left = marked(self.run_id, exclude=(os.getpid(),), marker=RUN_MARKER)
        if left:
            kill_all(left)
        reader.join(timeout=60)  # the last lines, once whatever held the output is gone
        if left:
            result.leaks = [str(info) for info in left]
            print(f"[test] {part} left processes running (now killed):", flush=True)
            for leak in result.leaks:
                print(f"  {leak}", flush=True)
        ok = result.exit_code == 0 and not result.leaks
        result.status = "passed" if ok else "failed"
        return result

    @staticmethod
    def read(stdout: IO[str], result: Result) -> None:
        """Pass the part's output through, noting pytest's closing lines and NOT RUN lines."""
        for line in stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            text = line.strip()
            if closing := PYTEST_CLOSING.match(text):
                result.closing.append(closing.group(0).strip("= "))
                for number, name in COUNT.findall(closing.group("counts")):
                    name = {"error": "errors", "warning": "warnings"}.get(name, name)
                    result.counts[name] = result.counts.get(name, 0) + int(number)
            if not_run := NOT_RUN.search(text):
                result.not_run.append(not_run.group("what"))


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def summary(results: list[Result]) -> tuple[str, bool]:
    width = max(len(r.part) for r in results)
    lines = ["", "== make test: summary", f"{'part':<{width}}  result   duration  tests"]
    for r in results:
        tests = "; ".join(r.closing) if r.closing else "-"
        if r.leaks:
            tests += f"; left {len(r.leaks)} process(es) running"
        if r.status == "failed" and r.exit_code:
            tests += f"; exit status {r.exit_code}"
        lines.append(f"{r.part:<{width}}  {r.status:<7}  {duration(r.seconds):>8}  {tests}")
    lines += [f"NOT RUN here: {what}" for r in results for what in r.not_run]
    passed = sum(r.count("passed") for r in results)
    # A part that failed without a failing test (lint, a scanner, a crash) counts as one.
    failed = sum(
        max(r.count("failed", "errors"), 1 if r.status == "failed" else 0) for r in results
    )
    not_run = [r.part for r in results if r.status == "not run"]
    if not_run:
        lines.append(f"parts not run (stopped): {', '.join(not_run)}")
    ok = all(r.status == "passed" for r in results)
    lines.append(f"test: {passed} passed, {failed} failed")
    return "\n".join(lines), ok


def main(argv: list[str]) -> int:
    parts = argv or PARTS
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        print(f"unknown part(s) {', '.join(unknown)}; the parts are {', '.join(PARTS)}")
        return 2
    runner = Runner()
    # Set explicitly, whatever was inherited (a background job starts with SIGINT ignored).
    stop_signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        stop_signals.append(signal.SIGHUP)
    for signum in stop_signals:
        signal.signal(signum, runner.on_signal)
    results = [Result(part) for part in parts]
    for index, part in enumerate(parts):
        if runner.signals:
            break
        print(f"\n== make test: [{index + 1}/{len(parts)}] make {part}", flush=True)
        results[index] = runner.run(part)
    text, ok = summary(results)
    print(text, flush=True)
    if runner.signals:
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
