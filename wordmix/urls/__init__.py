"""One root URLconf per service: verbs, nouns, aggregator."""
