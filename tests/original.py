"""What the Node original started with: its 15 verbs and 15 nouns, written out here on their
own (not imported from the migrations), so the tests check the seed against the original."""

VERBS = [
    "run",
    "jump",
    "write",
    "sing",
    "read",
    "dance",
    "speak",
    "drive",
    "cook",
    "swim",
    "walk",
    "fly",
    "climb",
    "paint",
    "laugh",
]
NOUNS = [
    "dog",
    "cat",
    "house",
    "car",
    "tree",
    "book",
    "computer",
    "phone",
    "flower",
    "mountain",
    "river",
    "city",
    "ocean",
    "bird",
    "table",
]
