"""Declarative mappings from raw feed items to normalised course records (specs in mappings/specs)."""
