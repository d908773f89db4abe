"""`scripts/bench.py --smoke`: the benchmark runs end to end (services, the Node reference,
wrk, freshness, fault run, plot) and writes both files with every key issues #6 and #12 ask
for. No timing is asserted: how fast the app is belongs to `make bench`, not to the test
suite."""

import json
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests import processes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402 - scripts/ is not a package


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    # processes.run: on a timeout the whole tree stops (services, wrk), not only bench.py.
    result = processes.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--smoke", "--out-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return result, out


def test_smoke_run_succeeds(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = smoke_run
    assert result.returncode == 0, result.stderr + result.stdout


def test_bench_json_has_every_key_the_issue_lists(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = smoke_run
    data = json.loads((out / "bench.json").read_text())
    missing = [key for key in bench.REQUIRED_KEYS if key not in data]
    assert not missing, f"bench.json lacks {missing}"
    assert set(data["rss_mib"]) == {"aggregator", "verbs", "nouns"}
    numbers = (
        "ceiling_rps",
        "mix_rps",
        "mix_over_ceiling",
        "ceiling_p99_ms",
        "mix_p99_ms",
        "reference_rps",
        "reference_p99_ms",
        "mix_cpu_us_per_request",
        "reference_cpu_us_per_request",
    )
    for key in numbers:
        assert isinstance(data[key], int | float) and data[key] > 0, (key, data[key])
    assert all(mib > 0 for mib in data["rss_mib"].values()), data["rss_mib"]
    assert isinstance(data["errors"], int)
    assert isinstance(data["fault_non_problem_failures"], int)
    assert data["smoke"] is True
    # Both stacks at every connection count, and every target written down with its verdict.
    assert set(data["by_connections"]) == {"16", "64", "256"}
    for load in data["by_connections"].values():
        assert load["mix_rps"] > 0 and load["reference_rps"] > 0, load
    assert {row["what"] for row in data["targets"]} >= {
        "mix / reference req/s, c=64",
        "CPU/answer mix / ref, c=64",
        "p99 mix / ref, c=64",
        "mix / reference req/s, c=16",
        "mix / reference req/s, c=256",
    }
    assert data["targets_met"] == all(row["met"] for row in data["targets"])


def test_fault_run_saw_the_outage(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    # Without failed answers the fault run would count nothing: the kill must show.
    _, out = smoke_run
    data = json.loads((out / "bench.json").read_text())
    assert data["fault"]["problem_failures"] > 0, data["fault_statuses"]


def test_bench_png_is_a_png_image(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = smoke_run
    head = (out / "bench.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width >= 800 and height >= 500, (width, height)


def test_table_is_printed(smoke_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = smoke_run
    for row in ("ceiling /api/v1/ping/", "mix /api/v1/mix/", "reference /random", "target"):
        assert row in result.stdout, result.stdout


def test_no_process_outlives_the_run(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = smoke_run
    ports = json.loads((out / "bench.json").read_text())["ports"]
    binds = {f"127.0.0.1:{port}".encode() for port in ports.values()}
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if any(bind in cmdline for bind in binds):
                leftovers.append(int(entry.name))
    assert not leftovers, f"processes of the bench still running: {leftovers}"


def test_no_port_of_the_run_is_still_served(
    smoke_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    # The Node reference gets its port from the environment, not the command line.
    _, out = smoke_run
    ports = json.loads((out / "bench.json").read_text())["ports"]
    assert {"reference-verbs", "reference-nouns", "reference-aggregator"} <= set(ports)
    answering = []
    for name, port in ports.items():
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                answering.append(name)
    assert not answering, f"still served after the run: {answering}"
