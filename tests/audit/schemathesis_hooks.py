"""Loaded by schemathesis (SCHEMATHESIS_HOOKS=tests.audit.schemathesis_hooks) inside
.venv-audit: the check that no write succeeds without credentials."""

from typing import Any

import schemathesis

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@schemathesis.check
def no_anonymous_write(ctx: Any, response: Any, case: Any) -> bool | None:
    """Run only where the fuzzer holds no credentials: whatever token or session cookie it
    makes up, a write must not succeed. (ignored_auth only probes writes that succeeded
    with real credentials; this covers every write the fuzzer sends without them.)"""
    request = response.request
    if request.method.upper() not in WRITE_METHODS:
        return None
    if 200 <= response.status_code < 300:
        raise AssertionError(
            f"{request.method} {request.url} succeeded with {response.status_code} without "
            "credentials: writes must need a staff user"
        )
    return True
