"""The original's 15 starting verbs. A data migration runs once per database, so the seed
never comes back over a person's edits or deletions, and never twice."""

from django.db import migrations

from wordmix.words.seeding import seed_words

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


class Migration(migrations.Migration):
    dependencies = [("verbs", "0001_initial")]
    operations = [seed_words("verbs", "Verb", SEED)]
