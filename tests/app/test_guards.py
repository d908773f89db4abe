"""The guards around the app: login lockout (admin and API tokens), write throttling, and
the security headers (CSP, frame options, HSTS, cookies, no server version)."""

import re

import pytest
import requests
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def _fresh_counters():  # type: ignore[no-untyped-def]
    cache.clear()  # DRF's throttle counts live in the cache
    yield
    cache.clear()


def login(client: Client, service, password: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/login/",
        {"username": "editor", "password": password, "next": "/admin/"},
        REMOTE_ADDR="203.0.113.9",
    )


def test_admin_login_locks_out_after_five_failures(service, staff_user) -> None:
    client = Client()
    for _ in range(4):
        assert login(client, service, "wrong-password").status_code == 200  # form error
    assert login(client, service, "wrong-password").status_code == 429  # the fifth locks
    response = login(client, service, PASSWORD)  # even the right password now
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert "Too many failed sign-in attempts" in response.json()["detail"]


def test_admin_login_works_and_resets_after_a_success(service, staff_user) -> None:
    client = Client()
    for _ in range(4):
        login(client, service, "wrong-password")
    assert login(client, service, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert login(client, service, "wrong-password").status_code == 200
    assert login(client, service, PASSWORD).status_code == 302


def test_bad_tokens_lock_out_the_client(service, staff_user) -> None:
    good = Token.objects.create(user=staff_user).key
    client = APIClient(REMOTE_ADDR="203.0.113.10")
    for attempt in range(5):
        client.credentials(HTTP_AUTHORIZATION=f"Token guess{attempt}")
        response = client.post(service.list_url, {"text": "zigzag"}, format="json")
        assert response.status_code == (401 if attempt < 4 else 429)  # the fifth locks
    client.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    response = client.post(service.list_url, {"text": "zigzag"}, format="json")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.json()["detail"]
    assert "zigzag" not in service.texts()


def test_reads_are_not_counted_against_tokens(service, staff_user) -> None:
    client = APIClient()
    for _ in range(10):
        assert client.get(service.list_url).status_code == 200


def test_writes_are_throttled(service, staff, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WORDMIX_WRITE_RATE = "3/minute"
    for word in ("alpha", "beta", "gamma"):
        assert staff.post(service.list_url, {"text": word}, format="json").status_code == 201
    response = staff.post(service.list_url, {"text": "delta"}, format="json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert "Retry-After" in response
    assert "delta" not in service.texts()
    for _ in range(5):  # reads stay open
        assert staff.get(service.list_url).status_code == 200


def csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("strict_styles", [True, False], ids=["strict", "api-html"])
def test_strict_csp_and_frame_options_on_every_page(
    service, anon, staff_user, strict_styles: bool
) -> None:
    """Scripts are 'self'-only everywhere. Styles too, except the HTML of Swagger UI and
    DRF's browsable API, whose own code sets style attributes."""
    admin = Client()
    admin.force_login(staff_user)
    if strict_styles:
        responses = [
            anon.get(service.list_url),  # JSON
            anon.get("/admin/login/"),
            admin.get(f"/admin/{service.plural}/{service.singular}/"),
        ]
    else:
        responses = [anon.get("/api/docs/"), anon.get(service.list_url, HTTP_ACCEPT="text/html")]
    for response in responses:
        policy = csp(response)
        assert policy["script-src"] == "script-src 'self'"
        assert policy["style-src"] == (
            "style-src 'self'" if strict_styles else "style-src 'self' 'unsafe-inline'"
        )
        assert policy["default-src"] == "default-src 'self'"
        assert policy["frame-ancestors"] == "frame-ancestors 'none'"
        assert "unsafe-eval" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_docs_page_has_no_inline_script(service, anon) -> None:
    page = anon.get("/api/docs/").content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []


@pytest.mark.integration
def test_production_headers_over_http(stack) -> None:
    """Against the real server with production settings, as the gateway would forward HTTPS."""
    for name, path in (("verbs", "/admin/login/"), ("aggregator", "/")):
        response = requests.get(
            f"{stack[name].url}{path}", headers={"X-Forwarded-Proto": "https"}, timeout=30
        )
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        server = response.headers.get("Server", "")
        assert not re.search(r"\d", server), f"Server header leaks a version: {server!r}"
        assert "Content-Security-Policy" in response.headers
    login_page = requests.get(f"{stack['verbs'].url}/admin/login/", timeout=30)
    cookie = login_page.headers["Set-Cookie"]
    assert "csrftoken=" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
