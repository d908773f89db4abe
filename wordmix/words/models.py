"""The abstract word model. Concrete models (verbs.Verb, nouns.Noun) add only their names."""

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from wordmix.words import rules


class Word(models.Model):
    text = models.CharField(max_length=rules.MAX_LENGTH, help_text="A single word, lower-case.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # How the original API named one and many of these ("verb" / "verbs").
    # Inherited by each concrete model (Django copies an abstract model's managers); written
    # here so that code given `type[Word]` can use it.
    objects = models.Manager()

    singular: ClassVar[str] = "word"
    plural: ClassVar[str] = "words"

    class Meta:
        abstract = True
        ordering = ["text"]
        constraints = [
            # Unique in any letter case, in the database itself: two requests racing past
            # the application's check still cannot store "Run" next to "run".
            models.UniqueConstraint(Lower("text"), name="%(app_label)s_%(class)s_text_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(text=Lower("text")),
                name="%(app_label)s_%(class)s_text_lower_case",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    GreaterThanOrEqual(Length("text"), 1),
                    LessThanOrEqual(Length("text"), rules.MAX_LENGTH),
                ),
                name="%(app_label)s_%(class)s_text_length",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        try:
            self.text = rules.clean(self.text)
        except rules.InvalidWord as error:
            raise ValidationError({"text": str(error)}) from None
