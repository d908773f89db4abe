"""Hostile and broken input, table-driven, against both word services: the word API, the
original /add route, the API and admin bulk imports, query parameters and headers.

Every entry must be refused with a 4xx whose problem `detail` (or, in the admin, the form's
error) says what is wrong, and both word tables must be exactly as they were before (every
column of every row). Django's test client: no servers, so the corpus runs in seconds."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
ONE_MEGABYTE = 1024 * 1024


def j(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Bad:
    """One hostile request. Paths and bodies may use {plural}, {singular}, {id} (an existing
    word) and {word} (an existing word's text)."""

    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    who: str = "staff"  # staff (API token), anon, admin (session in the admin)
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    message: str = ""
    # The body is a template ({singular}...) rather than raw bytes.
    template: bool = False


LIST = "/api/v1/{plural}/"
DETAIL = "/api/v1/{plural}/{id}/"
IMPORT = "/api/v1/{plural}/import/"
EXPORT = "/api/v1/{plural}/export/"
ADMIN_IMPORT = "/admin/{plural}/{singular}/import/"
ADMIN_ADD = "/admin/{plural}/{singular}/add/"
NOT_A_WORD = "is not a word"
TOO_LONG = "at most 40 characters"
NULL = "Null characters are not allowed"
NO_CREDENTIALS = "Authentication credentials were not provided"


def create(name: str, body: bytes, message: str, status: int = 400, **kw: Any) -> Bad:
    return Bad(name, "POST", LIST, body, status=status, message=message, **kw)


CORPUS: list[Bad] = [
    # The word API's create: broken bodies.
    create("empty-body", b"", "text: This field is required"),
    create("truncated-json", b'{"text": "zigzag"', "JSON parse error"),
    create("json-array", j(["zigzag"]), "Expected a dictionary, but got list"),
    create("json-string", j("zigzag"), "Expected a dictionary, but got str"),
    create("json-null", b"null", "No data provided"),
    create("json-nan", b'{"text": NaN}', "JSON parse error"),
    create("number-overflowing-to-infinity", b'{"text": 1e400}', "must be a string"),
    create("text-null", j({"text": None}), "This field may not be null"),
    create("text-number", j({"text": 42}), "must be a string"),
    create("text-bool", j({"text": True}), "must be a string"),
    create("text-object", j({"text": {"$ne": ""}}), "must be a string"),
    create("text-list", j({"text": ["zigzag"]}), "must be a string"),
    create("unknown-field-only", j({"word": "zigzag"}), "text: This field is required"),
    create("invalid-utf8", b'{"text": "\xff\xfezig"}', "JSON parse error"),
    create("utf16-body", '{"text": "zigzag"}'.encode("utf-16"), "JSON parse error"),
    create("nesting-bomb", b"[" * 100_000 + b"]" * 100_000, "JSON parse error"),
    create(
        "oversized-body",
        j({"text": "a" * (ONE_MEGABYTE + 10)}),
        "larger than",
        status=413,
    ),
    # The word API's create: hostile words.
    create("nul-byte", j({"text": "zig\x00zag"}), NULL),
    create("very-long", j({"text": "a" * 100_000}), "at most 40 characters; this one has more"),
    create("41-letters", j({"text": "a" * 41}), TOO_LONG),
    create("empty-string", j({"text": ""}), "cannot be empty"),
    create("only-whitespace", j({"text": " \t\u3000 "}), "cannot be empty"),
    create("path-traversal", j({"text": "../../etc/passwd"}), NOT_A_WORD),
    create("sql-drop", j({"text": "run'; DROP TABLE verbs_verb; --"}), NOT_A_WORD),
    create("sql-tautology", j({"text": "' OR '1'='1"}), NOT_A_WORD),
    create("html-script", j({"text": "<script>alert(1)</script>"}), NOT_A_WORD),
    create("django-template", j({"text": "{{ settings.SECRET_KEY }}"}), NOT_A_WORD),
    create("jndi-lookup", j({"text": "${jndi:ldap://x/a}"}), NOT_A_WORD),
    create("newline-injection", j({"text": "zig\nzag"}), NOT_A_WORD),
    create("crlf-injection", j({"text": "zig\r\nSet-Cookie: a=b"}), NOT_A_WORD),
    create("rtl-override", j({"text": "zig\u202ezag"}), NOT_A_WORD),
    create("zero-width-joiner", j({"text": "zig\u200dzag"}), NOT_A_WORD),
    create("zero-width-space", j({"text": "zig\u200bzag"}), NOT_A_WORD),
    create("soft-hyphen", j({"text": "zig\u00adzag"}), NOT_A_WORD),
    create("homoglyph-cyrillic-in-latin", j({"text": "zigz\u0430g"}), "mixes Cyrillic and Latin"),
    create("homoglyph-greek-in-latin", j({"text": "zigz\u03b1g"}), "mixes Greek and Latin"),
    create("full-width-letters", j({"text": "\uff5a\uff49\uff47"}), "look-alike characters"),
    create("math-bold-letters", j({"text": "\U0001d433\U0001d422\U0001d420"}), "look-alike"),
    create("ligature", j({"text": "\ufb01zz"}), "look-alike characters"),
    create("combining-mark-pile", j({"text": "zig" + "\u0301" * 60}), TOO_LONG),
    create("emoji", j({"text": "zig\U0001f3c3"}), NOT_A_WORD),
    create("digits", j({"text": "zig2zag"}), NOT_A_WORD),
    create("duplicate-other-case", j({"text": "{word_upper}"}), "already in", 409, template=True),
    # Wrong content types.
    create("text-plain", b"zigzag", "Unsupported media type", 415, content_type="text/plain"),
    create("xml", b"<text>zigzag</text>", "Unsupported media type", 415, content_type="text/xml"),
    create(
        "multipart",
        b"--x\r\nContent-Disposition: form-data; name=text\r\n\r\nzigzag\r\n--x--\r\n",
        "Unsupported media type",
        415,
        content_type="multipart/form-data; boundary=x",
    ),
    create("form-nul", b"text=zig%00zag", NULL, content_type="application/x-www-form-urlencoded"),
    # Detail routes.
    Bad(
        "put-negative-id",
        "PUT",
        "/api/v1/{plural}/-1/",
        j({"text": "zigzag"}),
        status=404,
        message="Not found",
    ),
    Bad("get-id-zero", "GET", "/api/v1/{plural}/0/", status=404, message="Not found"),
    Bad(
        "get-huge-id",
        "GET",
        "/api/v1/{plural}/99999999999999999999999/",
        status=404,
        message="Not found",
    ),
    Bad("get-id-not-a-number", "GET", "/api/v1/{plural}/abc/", status=404, message="Not found"),
    Bad(
        "get-id-traversal",
        "GET",
        "/api/v1/{plural}/..%2F..%2Fetc%2Fpasswd/",
        status=404,
        message="Nothing is at",
    ),
    Bad(
        "patch-html",
        "PATCH",
        DETAIL,
        j({"text": "<img src=x onerror=alert(1)>"}),
        message=NOT_A_WORD,
    ),
    Bad("put-too-long", "PUT", DETAIL, j({"text": "z" * 41}), message=TOO_LONG),
    Bad("put-missing-text", "PUT", DETAIL, j({}), message="text: This field is required"),
    Bad("delete-anonymous", "DELETE", DETAIL, who="anon", status=401, message=NO_CREDENTIALS),
    Bad(
        "patch-anonymous",
        "PATCH",
        DETAIL,
        j({"text": "zigzag"}),
        message=NO_CREDENTIALS,
        who="anon",
        status=401,
    ),
    Bad("put-on-list", "PUT", LIST, j({"text": "zigzag"}), status=405, message="not allowed"),
    Bad("trace", "TRACE", LIST, status=405, message="not allowed"),
    # Query parameters.
    Bad(
        "huge-page",
        "GET",
        LIST + "?page=99999999999999999999",
        who="anon",
        status=404,
        message="There is no page",
    ),
    Bad("negative-page", "GET", LIST + "?page=-1", who="anon", status=404, message="less than 1"),
    Bad(
        "page-not-a-number",
        "GET",
        LIST + "?page=abc",
        who="anon",
        status=404,
        message="not an integer",
    ),
    Bad("search-nul", "GET", LIST + "?search=zig%00", who="anon", message=NULL),
    Bad(
        "export-type-traversal",
        "GET",
        EXPORT + "?type=../../etc/passwd",
        who="anon",
        message="Use one of",
    ),
    Bad("export-type-nul", "GET", EXPORT + "?type=%00", who="anon", message="Use one of"),
    # The original /add route.
    Bad(
        "add-anonymous",
        "POST",
        "/add",
        b'{"{singular}": "zigzag"}',
        who="anon",
        status=401,
        message=NO_CREDENTIALS,
        template=True,
    ),
    Bad("add-empty-object", "POST", "/add", j({}), message="Send a JSON object like"),
    Bad("add-array", "POST", "/add", j(["zigzag"]), message="Send a JSON object like"),
    Bad(
        "add-null",
        "POST",
        "/add",
        b'{"{singular}": null}',
        message="must be a string",
        template=True,
    ),
    Bad(
        "add-infinity",
        "POST",
        "/add",
        b'{"{singular}": 1e400}',
        message="must be a string",
        template=True,
    ),
    Bad(
        "add-script",
        "POST",
        "/add",
        b'{"{singular}": "<script>"}',
        message=NOT_A_WORD,
        template=True,
    ),
    Bad("add-invalid-json", "POST", "/add", b'{"zig', message="JSON parse error"),
    # The API's bulk import.
    Bad(
        "import-anonymous",
        "POST",
        IMPORT,
        b"zigzag\n",
        "text/plain",
        who="anon",
        status=401,
        message=NO_CREDENTIALS,
    ),
    Bad(
        "import-invalid-utf8",
        "POST",
        IMPORT,
        b"zig\xff\xfezag\n",
        "text/plain",
        message="not UTF-8",
    ),
    Bad(
        "import-nul-bytes",
        "POST",
        IMPORT,
        b"zigzag\x00\nzagzig\n",
        "text/plain",
        message="NUL bytes",
    ),
    Bad(
        "import-json-body",
        "POST",
        IMPORT,
        j(["zigzag"]),
        status=415,
        message="Unsupported media type",
    ),
    Bad(
        "import-too-many-lines",
        "POST",
        IMPORT,
        b"zigzag\n" * 10_001,
        "text/plain",
        message="at most 10000 lines",
    ),
    # The admin's bulk import and add form (a 200 page with the form's error).
    Bad(
        "admin-import-not-utf8",
        "POST",
        ADMIN_IMPORT,
        b"file:zig\xff\xfe",
        who="admin",
        status=200,
        message="not UTF-8",
    ),
    Bad(
        "admin-import-nul",
        "POST",
        ADMIN_IMPORT,
        b"file:zig\x00zag",
        who="admin",
        status=200,
        message="NUL bytes",
    ),
    Bad(
        "admin-import-too-big",
        "POST",
        ADMIN_IMPORT,
        b"file:" + b"zigzag\n" * 80_000,
        who="admin",
        status=200,
        message="at most 512 KiB",
    ),
    Bad(
        "admin-import-empty",
        "POST",
        ADMIN_IMPORT,
        b"text: \n\t\n",
        who="admin",
        status=200,
        message="Paste some words or choose a file",
    ),
    Bad(
        "admin-import-too-many-lines",
        "POST",
        ADMIN_IMPORT,
        b"text:" + b"zigzag\n" * 10_001,
        who="admin",
        status=200,
        message="at most 10000 lines",
    ),
    Bad(
        "admin-import-only-hostile-lines",
        "POST",
        ADMIN_IMPORT,
        b"text:<script>\n../../etc/passwd\n{{ x }}\nzig\xe2\x80\xaezag\n",
        who="admin",
        status=200,
        message="Added 0, already there 0, rejected 4",
    ),
    Bad(
        "admin-add-nul",
        "POST",
        ADMIN_ADD,
        b"text:zig\x00zag",
        who="admin",
        status=200,
        message=NULL,
    ),
    Bad(
        "admin-add-homoglyph",
        "POST",
        ADMIN_ADD,
        "text:zigz\u0430g".encode(),
        who="admin",
        status=200,
        message="mixes Cyrillic and Latin",
    ),
    # Header abuse.
    create(
        "foreign-host",
        j({"text": "zigzag"}),
        "Host header names a host",
        headers={"HTTP_HOST": "evil.example"},
    ),
    create(
        "huge-token",
        j({"text": "zigzag"}),
        "Invalid token",
        401,
        headers={"HTTP_AUTHORIZATION": "Token " + "a" * 10_000},
    ),
    create(
        "token-with-spaces",
        j({"text": "zigzag"}),
        "should not contain spaces",
        401,
        headers={"HTTP_AUTHORIZATION": "Token a b"},
    ),
    create(
        "token-not-latin1",
        j({"text": "zigzag"}),
        "invalid characters",
        401,
        headers={"HTTP_AUTHORIZATION": "Token \u00e4\u00f6"},
    ),
    create(
        "basic-auth-instead",
        j({"text": "zigzag"}),
        NO_CREDENTIALS,
        401,
        who="anon",
        headers={"HTTP_AUTHORIZATION": "Basic ZWRpdG9yOnB3"},
    ),
    create(
        "forged-session-cookie",
        j({"text": "zigzag"}),
        NO_CREDENTIALS,
        401,
        who="anon",
        headers={"HTTP_COOKIE": "sessionid=forged; csrftoken=forged"},
    ),
    create("session-without-csrf", j({"text": "zigzag"}), "CSRF Failed", 403, who="session"),
    Bad(
        "accept-xml",
        "GET",
        LIST,
        who="anon",
        headers={"HTTP_ACCEPT": "application/xml"},
        status=406,
        message="Accept header",
    ),
]


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row of both word tables."""
    from django.apps import apps

    tables = {}
    for label in ("verbs.Verb", "nouns.Noun"):
        model = apps.get_model(label)
        columns = [f.attname for f in model._meta.concrete_fields]
        tables[label] = list(model.objects.order_by("pk").values_list(*columns))
    return tables


def fill(text: str, service: Any) -> str:
    word = service.model.objects.order_by("pk").first()
    return (
        text.replace("{plural}", service.plural)
        .replace("{singular}", service.singular)
        .replace("{id}", str(word.pk))
        .replace("{word_upper}", word.text.upper())
    )


def client_for(case: Bad, staff_user: Any) -> Any:
    from django.test import Client
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    if case.who == "admin":
        client = Client()
        client.force_login(staff_user)
        return client
    if case.who == "session":
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(staff_user)
        return client
    client = APIClient()
    if case.who == "staff" and "HTTP_AUTHORIZATION" not in case.headers:
        token = Token.objects.create(user=staff_user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def send(case: Bad, service: Any, client: Any) -> Any:
    path = fill(case.path, service)
    body = case.body or b""
    if case.template:
        body = fill(body.decode(), service).encode()
    if case.who == "admin":
        # "file:<bytes>" uploads a file, "text:<...>" fills the form's text field.
        from django.core.files.uploadedfile import SimpleUploadedFile

        kind, _, payload = body.partition(b":")
        if kind == b"file":
            data = {"file": SimpleUploadedFile("words.txt", payload)}
        else:
            data = {"text": payload.decode()}
        return client.post(path, data, **case.headers)
    return client.generic(
        case.method, path, data=body, content_type=case.content_type, **case.headers
    )


def answer_text(response: Any) -> str:
    if response["Content-Type"].startswith(PROBLEM):
        problem = json.loads(response.content)
        assert problem["status"] == response.status_code
        return str(problem["detail"])
    return response.content.decode(errors="replace")


@pytest.fixture
def guards_off_for_volume(settings: Any) -> None:
    # The corpus sends ~90 writes a minute per service; the write throttle (tested in
    # tests/app/test_guards.py) would answer 429 instead of what is being tested here.
    settings.WORDMIX_WRITE_RATE = "100000/minute"


def test_the_corpus_is_big_and_unambiguous() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names))
    assert len(CORPUS) >= 50


@pytest.mark.usefixtures("guards_off_for_volume")
@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    case: Bad, service: Any, staff_user: Any
) -> None:
    client = client_for(case, staff_user)
    before = snapshot()
    response = send(case, service, client)
    text = answer_text(response)
    assert response.status_code == case.status, f"{response.status_code}: {text[:500]}"
    if case.who != "admin":
        assert 400 <= response.status_code < 500
        assert response["Content-Type"].startswith(PROBLEM), response["Content-Type"]
    assert case.message.lower() in text.lower(), text[:2000]
    assert snapshot() == before
