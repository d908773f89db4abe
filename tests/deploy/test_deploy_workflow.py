"""The GitHub Actions workflow that deploys to a kind cluster is well-formed (actionlint, which
also runs shellcheck on its `run:` scripts) and does what the README says. It needs the
internet and has not been run here; this is what can be checked without running it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _deploy import ROOT, run, versions

pytestmark = pytest.mark.deploy

WORKFLOW = ROOT / ".github/workflows/deploy-kind.yml"


def actionlint() -> str:
    """actionlint at ACTIONLINT_VERSION, built by scripts/tools/lib.sh's shared builder."""
    version = versions()["ACTIONLINT_VERSION"]
    result = run(
        [
            "bash",
            "-c",
            '. scripts/tools/lib.sh && build_module_command actionlint "$1" '
            'github.com/rhysd/actionlint "$1" cmd/actionlint "-s -w"',
            "actionlint",
            version,
        ],
        cwd=ROOT,
        timeout=1800,
    )
    if result.returncode != 0:
        pytest.fail(f"could not build actionlint {version}:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def test_the_workflow_passes_actionlint() -> None:
    result = run([actionlint(), str(WORKFLOW)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("matrix.kubearmor", "matrix.kubearmr"))
    result = run([actionlint(), str(broken)])
    assert result.returncode != 0
    assert "kubearmr" in result.stdout


def test_the_workflow_deploys_to_kind_and_verifies() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["kind"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    runs = [step.get("run", "") for step in steps]
    assert any(use.startswith("helm/kind-action@") for use in uses)
    deploy = runs.index("make deploy")
    verify = runs.index("make verify")
    assert deploy < runs.index("make deploy SKIP_BUILD=1") < verify
    assert [str(v) for v in workflow["jobs"]["kind"]["strategy"]["matrix"]["kubearmor"]] == [
        "0",
        "1",
    ]
