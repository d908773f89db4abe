"""The original's 15 starting verbs. A data migration runs once per database, so the seed
never comes back over a person's edits or deletions, and never twice."""

from django.db import migrations

SEED = [
    "run",
    "jump",
    "write",
    "sing",
    "read",
    "dance",
    "speak",
    "drive",
    "cook",
    "swim",
    "walk",
    "fly",
    "climb",
    "paint",
    "laugh",
]


def seed(apps, schema_editor):
    model = apps.get_model("verbs", "Verb")
    for text in SEED:
        model.objects.get_or_create(text=text)


class Migration(migrations.Migration):
    dependencies = [("verbs", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
