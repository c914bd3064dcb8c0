"""Crisis detection: text normalization, the lexicon-driven detector and its evaluation."""
