"""`make test` (scripts/test_all.py): each part's result is reported whatever the others
did, pytest's counts are summed, NOT RUN lines are repeated, and a part that leaves a
process running fails and has it killed. The parts are the README's and the Makefile's."""

import re
import sys
from pathlib import Path

import pytest

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import test_all  # noqa: E402 - scripts/ is not a package


def part(name: str, script: str) -> test_all.Result:
    return test_all.Runner().run(name, ["bash", "-c", script])


def test_a_failing_part_is_reported_and_the_summary_sums_every_part(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = [
        part("one", "echo '==== 3 passed, 1 skipped in 0.50s ===='"),
        part(
            "two",
            "echo 'NOT RUN here: thing — no such device';"
            "echo '2 failed, 5 passed, 1 error in 1.2s (0:00:01)'; exit 1",
        ),
        part("three", "exit 2"),  # fails outside pytest (lint, a scanner)
        test_all.Result("four"),  # never started
    ]
    assert [r.status for r in results] == ["passed", "failed", "failed", "not run"]
    assert results[1].counts == {"failed": 2, "passed": 5, "errors": 1}
    text, ok = test_all.summary(results)
    assert not ok
    assert "NOT RUN here: thing — no such device" in text.splitlines()
    assert re.search(r"^two +failed .*2 failed, 5 passed, 1 error in 1\.2s", text, re.M), text
    # 3 + 1 errors and failures from pytest, and one for the part that failed without a test.
    assert text.splitlines()[-1] == "test: 8 passed, 4 failed"
    assert "NOT RUN here: thing" in capsys.readouterr().out  # the output is passed through


def test_a_part_that_leaves_a_process_running_fails_and_it_is_killed() -> None:
    result = part("leaky", "sleep 600 & echo started; exit 0")
    assert result.status == "failed"
    assert len(result.leaks) == 1 and "sleep 600" in result.leaks[0], result.leaks
    pid = int(result.leaks[0].split()[1])
    assert not processes.alive(pid)


def test_the_parts_are_make_targets_and_in_the_readme() -> None:
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    tests_section = readme[readme.index("## Tests") : readme.index("## Containers")]
    for name in test_all.PARTS:
        assert re.search(rf"^{re.escape(name)}:", makefile, re.M), f"no make target {name}"
        assert f"| `make {name}` |" in tests_section, f"the README's Tests table lacks {name}"
    assert re.search(r"^test: .*\n\t\$\(PY\) scripts/test_all.py$", makefile, re.M)
