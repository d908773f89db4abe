"""Writes. The API, the original /add route and both bulk imports change word lists through
these functions; the admin's add/edit form applies the same rules (rules.clean) and the same
uniqueness check (ensure_unique), and the database holds the last line either way."""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from wordmix.problems import Problem
from wordmix.words import rules
from wordmix.words.models import Word


class DuplicateWord(Problem):
    """The word is already in the list (in any letter case)."""

    status = 409

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(f"{text!r} is already in the {kind} list.", text=text)
        self.text = text


def ensure_unique(*, model: type[Word], text: str, exclude_pk: int | None = None) -> None:
    """Raise DuplicateWord if `text` (already cleaned, so lower-case) is in the list."""
    queryset = model.objects.filter(text=text)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    if queryset.exists():
        raise DuplicateWord(text, model.plural)


def _save(word: Word, update_fields: list[str] | None = None) -> Word:
    """Save a cleaned, checked word; a lost race with another writer is a DuplicateWord."""
    word.full_clean(validate_constraints=False)
    try:
        # A savepoint, so a lost race leaves the surrounding transaction usable.
        with transaction.atomic():
            word.save(update_fields=update_fields)
    except IntegrityError:
        raise DuplicateWord(word.text, type(word).plural) from None
    return word


def word_create(*, model: type[Word], text: object) -> Word:
    """Add one word. Raises rules.InvalidWord or DuplicateWord; stores nothing then."""
    cleaned = rules.clean(text)
    ensure_unique(model=model, text=cleaned)
    return _save(model(text=cleaned))


def word_update(*, word: Word, text: object) -> Word:
    cleaned = rules.clean(text)
    ensure_unique(model=type(word), text=cleaned, exclude_pk=word.pk)
    word.text = cleaned
    return _save(word, update_fields=["text", "updated_at"])


def word_delete(*, word: Word) -> None:
    word.delete()


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


# A bulk import is a person pasting a list; anything far bigger is a mistake or an attack.
MAX_IMPORT_LINES = 10_000


def words_import(*, model: type[Word], lines: list[str]) -> ImportReport:
    """Add many words at once: one per line, blank lines ignored. Reports what was added,
    what was already there (or repeated in the input) and what was rejected and why."""
    report = ImportReport()
    if len(lines) > MAX_IMPORT_LINES:
        raise rules.InvalidWord(
            f"An import holds at most {MAX_IMPORT_LINES} lines; this one has {len(lines)}."
        )
    seen: set[str] = set()
    with transaction.atomic():
        for line in lines:
            if not line.strip():
                continue
            try:
                cleaned = rules.clean(line)
            except rules.InvalidWord as error:
                report.rejected.append((line.strip(), str(error)))
                continue
            if cleaned in seen:
                report.duplicates.append(cleaned)
                continue
            seen.add(cleaned)
            try:
                word_create(model=model, text=cleaned)
            except DuplicateWord:
                report.duplicates.append(cleaned)
            else:
                report.added.append(cleaned)
    return report
