"""The Django admin of each word service: list, search, add, edit, delete, bulk import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db


def admin_url(service, suffix: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/admin/{service.plural}/{service.singular}/{suffix}"


def test_admin_needs_login(service) -> None:
    response = Client().get(admin_url(service))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_changelist_lists_and_searches(service, admin_client_for) -> None:
    response = admin_client_for.get(admin_url(service))
    assert response.status_code == 200
    for text in service.texts():
        assert text in response.content.decode()
    first = service.texts()[0]
    searched = admin_client_for.get(admin_url(service), {"q": first.upper()}).content.decode()
    others = [t for t in service.texts() if first not in t]
    assert first in searched
    assert f">{others[-1]}<" not in searched


def test_changelist_offers_import(service, admin_client_for) -> None:
    assert b"Import many" in admin_client_for.get(admin_url(service)).content


def test_add_edit_delete(service, admin_client_for) -> None:
    response = admin_client_for.post(admin_url(service, "add/"), {"text": " Zigzag "})
    assert response.status_code == 302
    word = service.model.objects.get(text="zigzag")
    response = admin_client_for.post(admin_url(service, f"{word.pk}/change/"), {"text": "zagzig"})
    assert response.status_code == 302
    assert "zagzig" in service.texts()
    response = admin_client_for.post(admin_url(service, f"{word.pk}/delete/"), {"post": "yes"})
    assert response.status_code == 302
    assert "zagzig" not in service.texts()


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "This field is required"), ("two words", "not a word"), ("a" * 41, "at most 40")],
)
def test_add_form_applies_the_word_rules(service, admin_client_for, text, message) -> None:
    before = service.texts()
    response = admin_client_for.post(admin_url(service, "add/"), {"text": text})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert service.texts() == before


def test_add_form_refuses_duplicates_in_any_case(service, admin_client_for) -> None:
    existing = service.texts()[0]
    response = admin_client_for.post(admin_url(service, "add/"), {"text": existing.upper()})
    assert response.status_code == 200
    assert "already in the" in response.content.decode()


def test_bulk_import_from_pasted_text_reports_each_outcome(service, admin_client_for) -> None:
    existing = service.texts()[0]
    pasted = f"zigzag\n  Zagzig\n\n{existing.upper()}\nzigzag\nnot a word\n42\n"
    response = admin_client_for.post(admin_url(service, "import/"), {"text": pasted})
    assert response.status_code == 200
    report = response.context["report"]
    assert report.added == ["zigzag", "zagzig"]
    assert report.duplicates == [existing, "zigzag"]
    assert [word for word, _ in report.rejected] == ["not a word", "42"]
    assert all("not a word" in reason for _, reason in report.rejected)
    page = response.content.decode()
    assert "Added (2)" in page and "Already there (2)" in page and "Rejected (2)" in page
    assert {"zigzag", "zagzig"} <= set(service.texts())


def test_bulk_import_from_a_file(service, admin_client_for) -> None:
    # A spreadsheet's CSV export: a byte-order mark, then the word in the first column.
    upload = SimpleUploadedFile("words.csv", "\ufeffzigzag\nzagzig,extra\n".encode())
    response = admin_client_for.post(admin_url(service, "import/"), {"file": upload})
    report = response.context["report"]
    assert report.added == ["zigzag", "zagzig"]
    assert [word for word, _ in report.rejected] == []
    assert report.duplicates == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"run\x00walk", "NUL bytes"),
        (b"a\n" * 300_000, "at most 512 KiB"),
    ],
)
def test_bulk_import_refuses_bad_files_and_stores_nothing(
    service, admin_client_for, content, message
) -> None:
    before = service.texts()
    upload = SimpleUploadedFile("words.txt", content)
    response = admin_client_for.post(admin_url(service, "import/"), {"file": upload})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert service.texts() == before


def test_bulk_import_needs_something(service, admin_client_for) -> None:
    response = admin_client_for.post(admin_url(service, "import/"), {"text": "  \n"})
    assert "Paste some words or choose a file" in response.content.decode()


def test_bulk_import_needs_login(service) -> None:
    before = service.texts()
    response = Client().post(admin_url(service, "import/"), {"text": "zigzag"})
    assert response.status_code == 302
    assert service.texts() == before
