"""Create or update the admin user from WORDMIX_ADMIN_USER / WORDMIX_ADMIN_PASSWORD, so a
fresh environment can be logged into without an interactive prompt. Safe to run again."""

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create or update the admin user from WORDMIX_ADMIN_USER and WORDMIX_ADMIN_PASSWORD."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("WORDMIX_ADMIN_USER", "").strip()
        password = os.environ.get("WORDMIX_ADMIN_PASSWORD", "")
        if not username or not password:
            self.stdout.write(
                "No admin user made: set WORDMIX_ADMIN_USER and WORDMIX_ADMIN_PASSWORD, "
                "or run `manage.py createsuperuser`."
            )
            return
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first() or user_model(username=username)
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(
                f"WORDMIX_ADMIN_PASSWORD is too weak: {' '.join(error.messages)}"
            ) from None
        created = user.pk is None
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"Admin user {username!r} {'created' if created else 'updated'}.")
