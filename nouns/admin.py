from nouns.models import Noun
from wordmix.words.admin import register

register(Noun)
