"""The word rules, on their own: what counts as a word and how it is normalised."""

import pytest

from wordmix.words import rules


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("run", "run"),
        ("  Run  ", "run"),
        ("DANCE", "dance"),
        ("self-driving", "self-driving"),
        ("o'clock", "o'clock"),
        ("rock\u2019n\u2019roll", "rock'n'roll"),  # typographic apostrophe -> ASCII
        ("cafe\u0301", "caf\u00e9"),  # decomposed é -> NFC
        ("Ärger", "ärger"),
        ("собака", "собака"),
        ("a" * 40, "a" * 40),
    ],
)
def test_clean_accepts_and_normalises_words(raw: str, expected: str) -> None:
    assert rules.clean(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("\t\n", "cannot be empty"),
        ("a" * 41, "at most 40 characters; this one has 41"),
        ("two words", "not a word"),
        ("run2", "not a word"),
        ("42", "not a word"),
        ("snake_case", "not a word"),
        ("-run", "not a word"),
        ("run-", "not a word"),
        ("run--fast", "not a word"),
        ("'quoted'", "not a word"),
        ("🐶", "not a word"),
        ("dog🐶", "not a word"),
        ("'; DROP TABLE verbs; --", "not a word"),
        ("<script>alert(1)</script>", "not a word"),
        ("<b>bold</b>", "not a word"),
        ("../../etc/passwd", "not a word"),
        ("run\x00", "not a word"),
        ("tab\there", "not a word"),
    ],
)
def test_clean_rejects_non_words_with_a_message(raw: str, message: str) -> None:
    with pytest.raises(rules.InvalidWord, match=message):
        rules.clean(raw)


@pytest.mark.parametrize("raw", [None, 42, ["run"], {"text": "run"}, True])
def test_clean_rejects_non_strings(raw: object) -> None:
    with pytest.raises(rules.InvalidWord, match="must be a string"):
        rules.clean(raw)
