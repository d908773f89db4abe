"""Reads."""

import random

from django.db.models import QuerySet

from wordmix.words.models import Word

_random = random.SystemRandom()


def word_queryset(model: type[Word]) -> QuerySet[Word]:
    """Every word; the API's search and ordering filters narrow it (DRF's filter backends)."""
    return model.objects.all()


def word_texts(model: type[Word]) -> list[str]:
    return list(model.objects.order_by("text").values_list("text", flat=True))


def word_random(model: type[Word]) -> str | None:
    """One word picked uniformly, in two cheap queries (no ORDER BY RANDOM() sort)."""
    count = model.objects.count()
    if count == 0:
        return None
    texts = model.objects.order_by("pk").values_list("text", flat=True)
    try:
        return texts[_random.randrange(count)]
    except IndexError:  # words were deleted between the count and the pick
        return texts.first()
