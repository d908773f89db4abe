"""The word REST API of the contract, run against both word services."""

import pytest
from django.db import IntegrityError, transaction

pytestmark = pytest.mark.django_db

SEEDED = 15


def test_list_is_paginated_and_sorted(service, anon) -> None:
    response = anon.get(service.list_url, {"page_size": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == SEEDED
    assert len(body["results"]) == 5
    texts = [item["text"] for item in body["results"]]
    assert texts == sorted(texts)
    assert body["next"] is not None
    assert anon.get(body["next"]).json()["results"][0]["text"] > texts[-1]


def test_list_search_and_ordering(service, anon) -> None:
    first = service.texts()[0]
    body = anon.get(service.list_url, {"search": first.upper()}).json()
    assert first in [item["text"] for item in body["results"]]
    descending = anon.get(service.list_url, {"ordering": "-text", "page_size": 500}).json()
    assert [item["text"] for item in descending["results"]] == sorted(service.texts(), reverse=True)


@pytest.mark.parametrize("page", ["0", "-1", "99999999999999999999", "abc"])
def test_out_of_range_pages_are_404_problems(service, anon, page: str) -> None:
    response = anon.get(service.list_url, {"page": page})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "page" in response.json()["detail"].lower()


def test_list_queries_do_not_grow_with_the_page(
    service, anon, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(2):
        anon.get(service.list_url, {"page_size": 500})


def test_random_returns_a_known_word(service, anon) -> None:
    response = anon.get(f"{service.list_url}random/")
    assert response.status_code == 200
    assert response.json()[service.singular] in service.texts()


def test_random_on_an_empty_list_is_a_404_problem(service, anon) -> None:
    service.model.objects.all().delete()
    response = anon.get(f"{service.list_url}random/")
    assert response.status_code == 404
    assert f"no {service.plural}" in response.json()["detail"]


def test_staff_creates_a_normalised_word(service, staff) -> None:
    response = staff.post(service.list_url, {"text": "  Zigzag "}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["text"] == "zigzag"
    assert "zigzag" in service.texts()


def test_retrieve_update_patch_delete(service, staff) -> None:
    pk = staff.post(service.list_url, {"text": "zigzag"}, format="json").json()["id"]
    assert staff.get(service.detail_url(pk)).json()["text"] == "zigzag"
    assert staff.put(service.detail_url(pk), {"text": "Zagzig"}, format="json").json()["text"] == (
        "zagzig"
    )
    assert staff.patch(service.detail_url(pk), {"text": "zogzag"}, format="json").status_code == 200
    assert "zogzag" in service.texts()
    assert staff.delete(service.detail_url(pk)).status_code == 204
    assert "zogzag" not in service.texts()
    assert staff.get(service.detail_url(pk)).status_code == 404


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 41, "at most 40"),
        ("run2", "not a word"),
        ("two words", "not a word"),
        ("🐶", "not a word"),
        ("'; DROP TABLE verbs; --", "not a word"),
        ("<script>alert(1)</script>", "not a word"),
        ("x" * 5000, "at most"),
    ],
)
def test_bad_words_are_400_problems_and_store_nothing(service, staff, text, message) -> None:
    before = service.texts()
    response = staff.post(service.list_url, {"text": text}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert service.texts() == before


@pytest.mark.parametrize("payload", [{}, {"text": None}, {"text": 42}, {"text": ["run"]}, []])
def test_malformed_bodies_are_400(service, staff, payload) -> None:
    before = service.texts()
    response = staff.post(service.list_url, payload, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert service.texts() == before


@pytest.mark.parametrize("spelling", ["dogged", "DOGGED", "Dogged", "  dOgGeD "])
def test_duplicates_in_any_case_are_409(service, staff, spelling) -> None:
    staff.post(service.list_url, {"text": "dogged"}, format="json")
    before = service.texts()
    response = staff.post(service.list_url, {"text": spelling}, format="json")
    assert response.status_code == 409
    assert "already in the" in response.json()["detail"]
    assert service.texts() == before


def test_renaming_onto_an_existing_word_is_409(service, staff) -> None:
    existing = service.texts()[0]
    pk = staff.post(service.list_url, {"text": "zigzag"}, format="json").json()["id"]
    response = staff.put(service.detail_url(pk), {"text": existing.upper()}, format="json")
    assert response.status_code == 409
    assert "zigzag" in service.texts()


def test_database_refuses_case_duplicates_without_the_app(service) -> None:
    """The unique-in-any-case rule is a database constraint, not only application code."""
    service.model.objects.create(text="zigzag")
    with pytest.raises(IntegrityError), transaction.atomic():
        service.model.objects.create(text="zigzag")


def test_database_refuses_upper_case_and_empty_text(service) -> None:
    for text in ("Zigzag", ""):
        with pytest.raises(IntegrityError), transaction.atomic():
            service.model.objects.create(text=text)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_anonymous_writes_are_refused_and_store_nothing(service, anon, method) -> None:
    before = service.texts()
    pk = service.model.objects.first().pk
    url = service.list_url if method == "post" else service.detail_url(pk)
    response = getattr(anon, method)(url, {"text": "zigzag"}, format="json")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"
    assert service.texts() == before


def test_non_staff_users_cannot_write(service, non_staff) -> None:
    response = non_staff.post(service.list_url, {"text": "zigzag"}, format="json")
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]
    assert "zigzag" not in service.texts()


def test_bad_token_is_401(service, anon) -> None:
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anon.post(service.list_url, {"text": "zigzag"}, format="json")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_session_writes_need_csrf(service, staff_user) -> None:
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(service.list_url, {"text": "zigzag"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert "zigzag" not in service.texts()


def test_wrong_content_type_is_415(service, staff) -> None:
    response = staff.post(service.list_url, "text=zigzag", content_type="text/plain")
    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]


def test_invalid_json_is_400(service, staff) -> None:
    response = staff.post(service.list_url, '{"text": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_openapi_schema_and_docs_page(service, anon) -> None:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert f"/api/v1/{service.plural}/random/" in paths
    assert "/add" in paths
    assert anon.get("/api/docs/").status_code == 200


def test_browsable_api_renders(service, anon) -> None:
    response = anon.get(service.list_url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content
