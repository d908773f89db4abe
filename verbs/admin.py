from verbs.models import Verb
from wordmix.words.admin import register

register(Verb)
