from django.apps import AppConfig


class VerbsConfig(AppConfig):
    name = "verbs"
    verbose_name = "Verbs"
