"""The pinned versions in deploy/versions.env agree with each other.

Each pin that depends on another is checked against the source that defines it, read from the
Go module proxy: the Kyverno chart must ship the Kyverno the CLI checks the policies with, and
the Gateway API CRDs must be the version the pinned Istio implements.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from _deploy import go_module_dir, kubectl, run, versions

pytestmark = pytest.mark.deploy


def test_the_kyverno_chart_ships_the_kyverno_the_policies_are_tested_with() -> None:
    pinned = versions()
    module = go_module_dir("github.com/kyverno/kyverno", pinned["KYVERNO_VERSION"])
    chart = yaml.safe_load((module / "charts/kyverno/Chart.yaml").read_text())
    assert chart["appVersion"] == pinned["KYVERNO_VERSION"]
    assert chart["version"] == pinned["KYVERNO_CHART_VERSION"]


def test_the_gateway_api_crds_are_the_version_istio_implements() -> None:
    pinned = versions()
    go_mod = (
        go_module_dir("istio.io/istio", pinned["ISTIO_MODULE_VERSION"]) / "go.mod"
    ).read_text()
    required = re.search(r"^\s*sigs\.k8s\.io/gateway-api (v\S+)", go_mod, flags=re.MULTILINE)
    assert required, "istio's go.mod names no sigs.k8s.io/gateway-api"
    assert pinned["GATEWAY_API_VERSION"] == required[1]


def test_the_schemas_are_those_of_the_kubectl_in_use() -> None:
    """Validation uses the schemas of the Kubernetes minor release kubectl (from PyPI) is."""
    result = run([kubectl(), "version", "--client", "-o", "json"])
    client = json.loads(result.stdout)["clientVersion"]
    minor = re.match(r"v(\d+)\.(\d+)\.", versions()["KUBERNETES_VERSION"])
    assert minor, versions()["KUBERNETES_VERSION"]
    assert (client["major"], client["minor"].rstrip("+")) == (minor[1], minor[2])


def test_every_chart_and_image_is_pinned_to_an_exact_version() -> None:
    pinned = versions()
    for name, value in pinned.items():
        assert value and value != "latest", name
        if name.endswith("_CHART_VERSION"):
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", value), f"{name}={value} is not exact"
    image, _, tag = pinned["POSTGRES_IMAGE"].partition(":")
    assert image == "postgres" and re.match(r"\d+\.\d+-", tag), pinned["POSTGRES_IMAGE"]
