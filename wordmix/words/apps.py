from django.apps import AppConfig


class WordsConfig(AppConfig):
    """The shared word logic as an app: its admin templates and management commands."""

    name = "wordmix.words"
    label = "words"
