"""Errors of the ESCO skills package."""

from __future__ import annotations


class SkillsError(Exception):
    """Base of every error raised by `course_catalogue.skills`."""


class TaxonomyUnavailable(SkillsError):
    """The ESCO data packages are not installed (or unreadable): skills are off."""


class UnknownSkill(SkillsError):
    """A skill asked for by label or URI is not in the taxonomy."""
