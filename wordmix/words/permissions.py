from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.views import APIView


class StaffWritesOrReadOnly(BasePermission):
    """Anyone may read; only an authenticated staff user (token or admin session) may write.
    The original let anyone POST /add: a hole we do not copy."""

    message = "Writing words needs a staff user: send 'Authorization: Token <key>' or log in."

    def has_permission(self, request: Request, view: "APIView") -> bool:
        if request.method in SAFE_METHODS:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
