#!/usr/bin/env python3
"""Django's command-line utility. Pick the service with DJANGO_SETTINGS_MODULE
(wordmix.settings.verbs, .nouns or .aggregator); the default is the verbs service."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wordmix.settings.verbs")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
