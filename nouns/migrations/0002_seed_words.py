"""The original's 15 starting nouns. A data migration runs once per database, so the seed
never comes back over a person's edits or deletions, and never twice."""

from django.db import migrations

SEED = [
    "dog",
    "cat",
    "house",
    "car",
    "tree",
    "book",
    "computer",
    "phone",
    "flower",
    "mountain",
    "river",
    "city",
    "ocean",
    "bird",
    "table",
]


def seed(apps, schema_editor):
    model = apps.get_model("nouns", "Noun")
    for text in SEED:
        model.objects.get_or_create(text=text)


class Migration(migrations.Migration):
    dependencies = [("nouns", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
