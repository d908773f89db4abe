"""The Node original's routes keep their shapes: GET /random, GET /all, POST /add."""

import pytest

pytestmark = pytest.mark.django_db


def test_random_shape(service, anon) -> None:
    body = anon.get("/random").json()
    assert list(body) == [service.singular]
    assert body[service.singular] in service.texts()


def test_all_shape(service, anon) -> None:
    body = anon.get("/all").json()
    assert body == {service.plural: service.texts()}
    assert len(body[service.plural]) == 15


def test_add_needs_authentication(service, anon) -> None:
    response = anon.post("/add", {service.singular: "zigzag"}, format="json")
    assert response.status_code in (401, 403)
    assert "zigzag" not in service.texts()


def test_add_by_staff(service, staff) -> None:
    response = staff.post("/add", {service.singular: " Zigzag"}, format="json")
    assert response.status_code == 201
    assert response.json() == {service.singular: "zigzag"}
    assert "zigzag" in staff.get("/all").json()[service.plural]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({}, 400, "Send a JSON object"),
        ({"wrong": "zigzag"}, 400, "Send a JSON object"),
        ([], 400, "Send a JSON object"),
        ("zigzag", 400, "Send a JSON object"),
        ({"KEY": None}, 400, "must be a string"),
        ({"KEY": "two words"}, 400, "not a word"),
        ({"KEY": "RUN-"}, 400, "not a word"),
    ],
)
def test_add_rejects_bad_input(service, staff, payload, status, message) -> None:
    if isinstance(payload, dict) and "KEY" in payload:
        payload = {service.singular: payload["KEY"]}
    before = service.texts()
    response = staff.post("/add", payload, format="json")
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert service.texts() == before


def test_add_duplicate_is_409(service, staff) -> None:
    existing = service.texts()[0]
    response = staff.post("/add", {service.singular: existing.upper()}, format="json")
    assert response.status_code == 409
    assert service.texts().count(existing) == 1
