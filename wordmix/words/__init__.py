"""The word logic, written once: verbs and nouns are the same service over different data.
Each word app declares a concrete model and hands it to these pieces."""
