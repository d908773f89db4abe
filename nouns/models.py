from wordmix.words.models import Word


class Noun(Word):
    singular = "noun"
    plural = "nouns"

    class Meta(Word.Meta):
        pass
