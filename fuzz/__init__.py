"""Fuzz targets (atheris) over every harvester + mapping; see RELIABILITY.md for how to run them."""
