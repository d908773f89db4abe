"""The OpenAPI schema says what the services really answer (schemathesis holds it to that,
tests/audit/test_fuzz.py): errors are application/problem+json, every operation that reads a
token can answer 401 (bad token) and 429 (lockout, write throttle), an operation with a path
parameter or a page number can answer 404, one with query parameters 400, one with a body
413 and 415, and reads need no credentials."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import SAFE_METHODS

from wordmix.problems import PROBLEM_CONTENT_TYPE

_FRAMEWORK_ANSWERS = {
    "401": "The credentials sent are not valid (a wrong or unknown token).",
    "429": "Too many failed sign-ins (locked out for a while), or too many writes.",
}
_NOT_FOUND = "No such object, or no such page."
_BODY_ANSWERS = {
    "413": "The body is larger than the service accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    "415": "The body's Content-Type is not one the operation reads.",
}
_BAD_QUERY = "A query parameter is not valid (the detail says which and why)."


class WordmixAutoSchema(AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:  # an excluded endpoint
            return None
        responses: dict[str, Any] = operation.setdefault("responses", {})
        problem_ref = None
        security = operation.get("security") or []
        if any("tokenAuth" in requirement for requirement in security):
            problem_ref = problem_ref or self._problem_ref()
            for status, description in _FRAMEWORK_ANSWERS.items():
                responses.setdefault(status, _problem_answer(problem_ref, description))
        if "requestBody" in operation:
            problem_ref = problem_ref or self._problem_ref()
            for status, description in _BODY_ANSWERS.items():
                responses.setdefault(status, _problem_answer(problem_ref, description))
        parameters = operation.get("parameters") or []
        if any(p.get("in") == "query" for p in parameters):
            problem_ref = problem_ref or self._problem_ref()
            responses.setdefault("400", _problem_answer(problem_ref, _BAD_QUERY))
        if any(p.get("in") == "path" or p.get("name") == "page" for p in parameters):
            problem_ref = problem_ref or self._problem_ref()
            responses.setdefault("404", _problem_answer(problem_ref, _NOT_FOUND))
        for status, response in responses.items():
            content = response.get("content")
            # Every error goes through wordmix.problems, whatever a view's decorator says.
            if int(status) >= 400 and content and PROBLEM_CONTENT_TYPE not in content:
                response["content"] = {PROBLEM_CONTENT_TYPE: next(iter(content.values()))}
        anonymous = self.method in SAFE_METHODS and self._anonymous_reads()
        if security and anonymous and {} not in security:
            security.append({})  # the empty requirement: no credentials needed
        return operation

    def _anonymous_reads(self) -> bool:
        from wordmix.words.permissions import StaffWritesOrReadOnly

        return all(isinstance(p, StaffWritesOrReadOnly) for p in self.view.get_permissions())

    def _problem_ref(self) -> dict[str, str]:
        # Imported here: wordmix.words.api imports DRF's views, which read the settings
        # that name this class.
        from wordmix.words.api import ProblemSerializer

        component = self.resolve_serializer(ProblemSerializer, "response")
        return component.ref


def _problem_answer(ref: dict[str, str], description: str) -> dict[str, Any]:
    return {"content": {PROBLEM_CONTENT_TYPE: {"schema": ref}}, "description": description}
