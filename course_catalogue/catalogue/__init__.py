"""The catalogue domain: the normalised course record, vocabularies, validation and the store."""
