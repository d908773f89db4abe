"""The seed data migration, written once for both word apps."""

from typing import Any

from django.db import migrations


def seed_words(app_label: str, model_name: str, words: list[str]) -> migrations.RunPython:
    """Add `words` once. The reverse keeps them: unapplying a migration must not delete words
    people may have come to rely on, and re-applying adds none twice (get_or_create)."""

    def forward(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        for text in words:
            model.objects.get_or_create(text=text)

    return migrations.RunPython(forward, migrations.RunPython.noop)
