from wordmix.words.models import Word


class Verb(Word):
    singular = "verb"
    plural = "verbs"

    class Meta(Word.Meta):
        pass
