"""The word services' parsers: DRF's JSON parser minus its one crash, and plain text for
imports."""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """A body nested deeper than Python's recursion limit ("[[[[..." fits easily under the
    upload size limit) made DRF's parser raise RecursionError, a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None


class PlainTextParser(parsers.BaseParser):
    """Bodies of text/plain or text/csv (an export, to import back), decoded as UTF-8."""

    media_type = "text/*"

    # DRF's stubs say a parser returns a mapping; DRF itself puts whatever it returns in
    # request.data, and the import views read this text from there.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> str:
        try:
            text: str = stream.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8 text.") from None
        # As the admin's import: a NUL means a binary file, not a list with one bad line.
        if "\x00" in text:
            raise ParseError("The body is not text (it contains NUL bytes).")
        return text
