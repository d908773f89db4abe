"""What a word is. The admin, the API, the original /add route and bulk import all go
through `normalise` and `validate`; the database repeats the rules it can express."""

import re
import unicodedata

MAX_LENGTH = 40
NOT_A_STRING = "A word must be a string of letters."

# Letters (any script), optionally joined by single inner hyphens or apostrophes:
# "run", "self-driving", "o'clock", "café". No digits, no underscores, no spaces.
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# Typographic apostrophes are normalised to the ASCII one, so a word typed with
# U+2019 and the same word typed with ' are one word.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})


class InvalidWord(ValueError):
    """A word breaks one of the rules; the message says which and how to fix it."""


def normalise(raw: str) -> str:
    """Trim, lower-case and NFC-normalise, so that equal-looking words are equal."""
    text = unicodedata.normalize("NFC", raw).strip().translate(_APOSTROPHES)
    return unicodedata.normalize("NFC", text.lower())


def validate(text: str) -> None:
    """Raise InvalidWord unless `text` (already normalised) is a word."""
    if not text:
        raise InvalidWord("A word cannot be empty.")
    if len(text) > MAX_LENGTH:
        raise InvalidWord(f"A word has at most {MAX_LENGTH} characters; this one has {len(text)}.")
    if not _WORD.fullmatch(text):
        raise InvalidWord(
            f"{_shorten(text)!r} is not a word: use letters only, with single hyphens or "
            "apostrophes between letters (no digits, spaces or symbols)."
        )
    # Look-alikes of other words: full-width, ligature or styled letters (U+FF52 for "r",
    # U+1D42B bold "r"), and Latin mixed with Cyrillic or Greek ("run" spelt with the Cyrillic
    # U+0443). A word in any one alphabet is fine (Cyrillic, Greek, accented Latin).
    if unicodedata.normalize("NFKC", text) != text:
        raise InvalidWord(
            f"{_shorten(text)!r} uses look-alike characters (full-width, ligature or styled "
            "letters): type plain letters."
        )
    scripts = sorted({_script(char) for char in text} & _CONFUSABLE_SCRIPTS)
    if len(scripts) > 1:
        raise InvalidWord(
            f"{_shorten(text)!r} mixes {' and '.join(s.title() for s in scripts)} letters, "
            "the way look-alikes of other words are made: use one alphabet."
        )


def clean(raw: object) -> str:
    """Normalise and validate in one go; the entry point for every way a word comes in."""
    if not isinstance(raw, str):
        raise InvalidWord(NOT_A_STRING)
    text = normalise(raw)
    validate(text)
    return text


# Scripts whose letters are easily mistaken for each other's.
_CONFUSABLE_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


def _script(char: str) -> str:
    """The script a letter belongs to, as the first word of its Unicode name says."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def _shorten(text: str, limit: int = 50) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
