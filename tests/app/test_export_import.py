"""Word data survives: every export (admin and API, text and CSV) imports back to the same
list."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.app.test_admin import admin_url

pytestmark = pytest.mark.django_db


def add_awkward_words(service, staff) -> None:  # type: ignore[no-untyped-def]
    """Words that a naive CSV or text round trip would mangle."""
    for text in ("o'clock", "self-driving", "café", "rock'n'roll", "собака"):
        assert staff.post(service.list_url, {"text": text}, format="json").status_code == 201


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_api_export_imports_back_to_the_same_list(service, staff, kind: str) -> None:
    add_awkward_words(service, staff)
    original = service.texts()
    response = staff.get(f"{service.list_url}export/", {"type": kind})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/")
    assert f'filename="{service.plural}.{kind}"' in response["Content-Disposition"]
    exported = response.content.decode()

    service.model.objects.all().delete()
    content_type = "text/csv" if kind == "csv" else "text/plain"
    response = staff.post(f"{service.list_url}import/", exported, content_type=content_type)
    assert response.status_code == 200, response.content
    report = response.json()
    assert sorted(report["added"]) == original
    assert report["duplicates"] == [] and report["rejected"] == []
    assert service.texts() == original


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_admin_export_imports_back_through_the_admin(service, admin_client_for, kind) -> None:
    original = service.texts()
    response = admin_client_for.get(admin_url(service, f"export/{kind}/"))
    assert response.status_code == 200
    exported = response.content

    service.model.objects.all().delete()
    upload = SimpleUploadedFile(f"{service.plural}.{kind}", exported)
    response = admin_client_for.post(admin_url(service, "import/"), {"file": upload})
    assert sorted(response.context["report"].added) == original
    assert service.texts() == original


def test_admin_action_exports_the_selection(service, admin_client_for) -> None:
    chosen = service.model.objects.order_by("text")[:3]
    response = admin_client_for.post(
        admin_url(service, ""),
        {"action": "export_selected_csv", "_selected_action": [w.pk for w in chosen]},
    )
    lines = response.content.decode().splitlines()
    assert lines[0] == "text,created_at,updated_at"
    assert [line.split(",")[0] for line in lines[1:]] == [w.text for w in chosen]


def test_import_reports_duplicates_and_rejections(service, staff) -> None:
    existing = service.texts()[0]
    body = f"zigzag\n{existing.upper()}\nnot a word\n\n"
    report = staff.post(f"{service.list_url}import/", body, content_type="text/plain").json()
    assert report["added"] == ["zigzag"]
    assert report["duplicates"] == [existing]
    assert report["rejected"][0]["text"] == "not a word"
    assert "not a word" in report["rejected"][0]["reason"]


def test_import_needs_staff(service, anon) -> None:
    before = service.texts()
    response = anon.post(f"{service.list_url}import/", "zigzag\n", content_type="text/plain")
    assert response.status_code in (401, 403)
    assert service.texts() == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"\xff\xfezig", "text/plain", 400, "not UTF-8"),
        (b'{"words": ["zigzag"]}', "application/json", 415, "Unsupported media type"),
    ],
)
def test_import_refuses_unreadable_bodies(service, staff, body, content_type, status, message):  # type: ignore[no-untyped-def]
    before = service.texts()
    response = staff.post(f"{service.list_url}import/", body, content_type=content_type)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert service.texts() == before


def test_export_rejects_unknown_types(service, anon) -> None:
    response = anon.get(f"{service.list_url}export/", {"type": "xml"})
    assert response.status_code == 400
    assert "csv" in response.json()["detail"]
