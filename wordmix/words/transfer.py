"""Word lists in and out: plain text (one word per line) and CSV. What `render` writes,
`parse_import` reads back to the same list, so an export is a backup that restores."""

import csv
import io

from django.db.models import QuerySet

from wordmix.words.models import Word

CSV_HEADER = ["text", "created_at", "updated_at"]
FORMATS = {"txt": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def render(queryset: QuerySet[Word], kind: str) -> str:
    """The words of `queryset`, sorted, as "txt" (one per line) or "csv" (with dates)."""
    if kind not in FORMATS:
        raise ValueError(f"Unknown export format {kind!r}: use one of {', '.join(FORMATS)}.")
    words = queryset.order_by("text")
    if kind == "txt":
        return "".join(f"{text}\n" for text in words.values_list("text", flat=True))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for word in words.only(*CSV_HEADER):
        writer.writerow([word.text, word.created_at.isoformat(), word.updated_at.isoformat()])
    return buffer.getvalue()


def parse_import(content: str) -> list[str]:
    """Lines to import: the first CSV column of each row (a spreadsheet export works), or
    each line of plain text. Our own CSV header row is skipped; blank rows are kept as blank
    lines, which the import ignores."""
    content = content.removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(content)))
    if rows and rows[0] == CSV_HEADER:
        rows = rows[1:]
    return [row[0] if row else "" for row in rows]
