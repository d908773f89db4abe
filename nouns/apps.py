from django.apps import AppConfig


class NounsConfig(AppConfig):
    name = "nouns"
    verbose_name = "Nouns"
