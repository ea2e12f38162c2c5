"""Harvesters: turn a provider feed (file, URL or pushed bytes) into raw items, and run the pipeline."""
