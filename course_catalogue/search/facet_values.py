"""From counts per value to the `Facet` a result shows: labels, order, size; both engines use it.

Engines count (search/tantivy/facets.py, search/opensearch/results.py); this module turns a
facet's counts into labelled, ordered values cut to the facet's size, selected values always kept.
Labels of vocabulary values come from the EU vocabularies (English); the web layer relabels them
in the reader's language.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from course_catalogue.catalogue.vocabularies import (
    SCHEDULES,
    country_label,
    eqf_label,
    isced_label,
    language_label,
    mode_label,
)
from course_catalogue.search.query import Facet, FacetSpec, FacetValue
from course_catalogue.skills import taxonomy as skill_taxonomy

Labeller = Callable[[str, str], str]
"""(facet name, value) -> display label."""

_VOCABULARY_LABELS: Mapping[str, Callable[[str], str]] = {
    "country": country_label,
    "eqf": lambda value: eqf_label(int(value)) if value.isdigit() else value,
    "language": language_label,
    "mode": mode_label,
    "schedule": lambda value: SCHEDULES[value].label if value in SCHEDULES else value,
    "field": isced_label,
    "field_narrow": isced_label,
    "field_detailed": isced_label,
    "skill": lambda value: skill_label(value),
}


def skill_label(uri: str) -> str:
    """The ESCO preferred label (English) of a skill URI; the URI when skills are off or unknown."""
    taxonomy = skill_taxonomy.current()
    return taxonomy.label(uri) if taxonomy is not None else uri


@functools.lru_cache(maxsize=4096)  # vocabularies are fixed; language labels go through pycountry
def vocabulary_label(name: str, value: str) -> str:
    """Label of a facet value from the EU vocabularies; the value itself when there is none."""
    label = _VOCABULARY_LABELS.get(name)
    return label(value) if label else value


def facet_from_counts(
    spec: FacetSpec, counts: Mapping[str, int], selected: Sequence[str], labeller: Labeller
) -> Facet:
    """The Facet shown for `counts`: labelled, ordered, cut to `size`, selected values always kept."""
    chosen = set(selected)
    if spec.ranges:
        keys = [r.key for r in spec.ranges if counts.get(r.key, 0) > 0 or r.key in chosen]
        labels = {r.key: r.label for r in spec.ranges}
        values = [FacetValue(k, labels[k], counts.get(k, 0), k in chosen) for k in keys]
        return Facet(spec.name, spec.label, tuple(values))
    values = [FacetValue(v, labeller(spec.name, v), n, v in chosen) for v, n in counts.items()]
    if spec.name == "eqf":
        values.sort(key=lambda fv: (len(fv.value), fv.value))
    else:
        values.sort(key=lambda fv: (-fv.count, fv.label.casefold(), fv.value))
    # Keep `size` values, plus any selected value that fell outside them.
    kept = values[: spec.size] + [fv for fv in values[spec.size :] if fv.selected]
    return Facet(spec.name, spec.label, tuple(kept))
