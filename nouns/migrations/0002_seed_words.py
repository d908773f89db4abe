"""The original's 15 starting nouns. A data migration runs once per database, so the seed
never comes back over a person's edits or deletions, and never twice."""

from django.db import migrations

from wordmix.words.seeding import seed_words

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


class Migration(migrations.Migration):
    dependencies = [("nouns", "0001_initial")]
    operations = [seed_words("nouns", "Noun", SEED)]
