"""The search request as the web sees it: query-string parsing and every link of a result page.

Both surfaces call `parse_query` and `build_view`, so the JSON API and the HTML page agree on
parameter names, on which facet values are selected and on each value's `toggle_url` (the
current search with that value switched on or off, back on page 1).

Parameters: `q`, one repeated parameter per facet (`country=FRA&country=DEU`), `page`,
`page_size`, `sort`, `include_past`, `near=<lat>,<lon>` with `within_km`, and `cursor` (the
`next_cursor` of the previous page; `links.next` carries it, so following `next` pages by
search_after and never skips or repeats a course that did not change meanwhile).

Drill-down facets (ISCED narrow and detailed fields) are nested under the value of their parent
facet they extend: `ValueView.children`. Switching a parent value off also drops its children.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from course_catalogue.search.errors import QueryError
from course_catalogue.search.query import (
    FACETS,
    FACETS_BY_NAME,
    MAX_FILTER_VALUES,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    Query,
    SearchResult,
)
from course_catalogue.skills import taxonomy as skill_taxonomy
from course_catalogue.skills.errors import UnknownSkill
from course_catalogue.skills.requests import resolve as resolve_skills
from course_catalogue.skills.requests import split_teaches
from course_catalogue.web.labels import FacetLabels
from course_catalogue.web.params import whole_number
from course_catalogue.web.urls import query_url

FILTER_PARAMS = tuple(spec.name for spec in FACETS)
KNOWN_PARAMS = frozenset(
    {
        "q",
        "page",
        "page_size",
        "sort",
        "include_past",
        "near",
        "within_km",
        "cursor",
        "retrieval",
        "lang",
        "facets",
        "match",
        "skills",
        *FILTER_PARAMS,
    }
)
"""`lang` picks the language of labels (web.i18n) and `facets` which facets are counted; neither
changes what is found. `match=any` finds courses with any of the words (`Query.any_words`).
`skills=<URI or label>,...` (and "teaches: a, b" in `q`) select values of the `skill` facet by name.
The HTML page also reads `verbatim=true`: no spelling correction (`search.assist`)."""
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _flag(args: MultiDict[str, str], name: str) -> bool:
    raw = args.get(name, "").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise QueryError(f"{name} must be true or false, not {raw[:40]!r}")
    return raw in _TRUE


def verbatim(args: MultiDict[str, str]) -> bool:
    """`verbatim=true`: search the words as typed, without spelling correction."""
    return _flag(args, "verbatim")


def _near(args: MultiDict[str, str]) -> tuple[float, float] | None:
    raw = args.get("near", "").strip()
    if not raw:
        return None
    try:
        lat, lon = (float(part) for part in raw.split(","))
    except ValueError:
        raise QueryError(f"near must be <latitude>,<longitude> in degrees, not {raw[:40]!r}") from None
    return lat, lon


def _float(args: MultiDict[str, str], name: str) -> float | None:
    raw = args.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise QueryError(f"{name} must be a number, not {raw[:40]!r}") from None


def _facet_names(args: MultiDict[str, str]) -> tuple[str, ...] | None:
    """`facets=country,eqf` (or repeated): the facets to count; absent means all, empty none
    (`Query.create` drops blank names and repeats)."""
    if "facets" not in args:
        return None
    return tuple(name for raw in args.getlist("facets") for name in raw.split(","))


def parse_query(args: MultiDict[str, str], *, default_page_size: int, strict: bool = True) -> Query:
    """Build a Query from request args. Raises QueryError (HTTP 400) on a bad value; with
    `strict` (the API) an unknown parameter is an error too, so a typo never silently widens
    a search. The HTML page is lenient about unknown parameters."""
    if strict:
        unknown = sorted(set(args) - KNOWN_PARAMS)
        if unknown:
            raise QueryError(
                f"unknown parameter {unknown[0]!r}; parameters are {', '.join(sorted(KNOWN_PARAMS))}"
            )
    given = sum(len(args.getlist(name)) for name in FILTER_PARAMS)
    if given > MAX_FILTER_VALUES:  # counted as sent, repeats included, before any other work
        raise QueryError(f"a search takes at most {MAX_FILTER_VALUES} filter values, not {given}")
    near = _near(args)
    sort = args.get("sort", "").strip() or "relevance"
    match = args.get("match", "").strip() or "all"
    if match not in ("all", "any"):
        raise QueryError(f"match must be all or any, not {match[:40]!r}")
    cursor = args.get("cursor", "").strip()
    text, skills = requested_skills(args)
    filters = {name: args.getlist(name) for name in FILTER_PARAMS if name in args}
    if skills:
        filters["skill"] = [*filters.get("skill", ()), *skills]
    return Query.create(
        text=text,
        filters=filters,
        page=whole_number(args, "page", 1, 1, MAX_PAGE),
        page_size=whole_number(args, "page_size", default_page_size, 1, MAX_PAGE_SIZE),
        # Parameters that only mean something together are ignored alone (no 400 for a
        # request its schema allows): distance without `near` is relevance, a radius without
        # `near` nothing. A cursor is checked (`Query.create`): one that is malformed, cut or
        # of another search is a 400, never a silent first page.
        sort="relevance" if sort == "distance" and near is None else sort,
        include_past=_flag(args, "include_past"),
        near=near,
        within_km=_float(args, "within_km") if near is not None else None,
        cursor=cursor or None,
        facets=_facet_names(args),
        retrieval=args.get("retrieval", "").strip() or "keyword",
        any_words=match == "any",
    )


def requested_skills(args: MultiDict[str, str]) -> tuple[str, tuple[str, ...]]:
    """(search words, skill URIs) of a request: "teaches: a, b" at the end of `q` and the names in
    `skills=` (comma-separated or repeated), resolved through the ESCO taxonomy. QueryError for a
    name that is no skill, or for any name when skills are off."""
    text, names = split_teaches(args.get("q", ""))
    names += [name for raw in args.getlist("skills") for name in raw.split(",")]
    if not any(name.strip() for name in names):
        return text, ()
    try:
        return text, resolve_skills(names, skill_taxonomy.current())
    except UnknownSkill as error:
        raise QueryError(str(error)) from None


def query_params(
    query: Query,
    default_page_size: int,
    *,
    filters: Mapping[str, tuple[str, ...]] | None = None,
    page: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The canonical query-string of a Query (defaults left out), optionally with other
    filters/page, or a cursor instead of the page."""
    params: dict[str, Any] = {}
    if query.text:
        params["q"] = query.text
    for name, values in (query.filters if filters is None else filters).items():
        if values:
            params[name] = list(values)
    if query.sort != "relevance":
        params["sort"] = query.sort
    if query.page_size != default_page_size:
        params["page_size"] = query.page_size
    if query.include_past:
        params["include_past"] = "true"
    if query.near is not None:
        params["near"] = f"{query.near[0]!r},{query.near[1]!r}"  # repr: exact, so cursors still match
        params["within_km"] = repr(query.within_km)
    if query.facets is not None:
        params["facets"] = ",".join(query.facets)
    if query.retrieval != "keyword":
        params["retrieval"] = query.retrieval
    if query.any_words:
        params["match"] = "any"
    if cursor is not None:
        params["cursor"] = cursor
        return params
    chosen = query.page if page is None else page
    if chosen > 1:
        params["page"] = chosen
    return params


def toggled(filters: Mapping[str, tuple[str, ...]], name: str, value: str) -> dict[str, tuple[str, ...]]:
    """`filters` with `value` of facet `name` switched: removed when selected, else added.
    Removing a value also removes every drill-down value under it (ISCED 06 takes 061 and
    0613: codes nest by prefix). One pass over the selection: linear in the query."""
    result = dict(filters)
    current = result.get(name, ())
    if value not in current:
        result[name] = (*current, value)
        return result
    result[name] = tuple(v for v in current if v != value)
    for child in _DRILL_DOWNS.get(name, ()):
        if result.get(child):
            result[child] = tuple(v for v in result[child] if not v.startswith(value))
    return result


def _drill_downs() -> dict[str, tuple[str, ...]]:
    """Facet -> every facet that drills down from it, directly or through another."""
    below: dict[str, tuple[str, ...]] = {}
    for spec in FACETS:
        parent = spec.parent
        while parent is not None:
            below[parent] = (*below.get(parent, ()), spec.name)
            parent = FACETS_BY_NAME[parent].parent
    return below


_DRILL_DOWNS = _drill_downs()


@dataclass(frozen=True)
class ValueView:
    value: str
    label: str
    count: int
    selected: bool
    toggle_url: str
    children: tuple[ValueView, ...] = ()  # drill-down values extending this one


@dataclass(frozen=True)
class FacetView:
    name: str
    label: str
    values: tuple[ValueView, ...]
    parent: str | None = None  # the facet this one drills down from

    @property
    def selected(self) -> tuple[ValueView, ...]:
        return tuple(v for v in self.values if v.selected)


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap ("...")
    url: str | None
    current: bool = False


@dataclass(frozen=True)
class SearchView:
    """Everything a surface renders: the result plus facets, active filters and paging links."""

    result: SearchResult
    facets: tuple[FacetView, ...]
    active: tuple[ValueView, ...]  # selected filter values, each with its remove (toggle) url
    links: Mapping[str, str | None]  # self, next, prev, first, last
    pages: tuple[PageLink, ...]
    clear_url: str


class _Urls:
    """Builds urls of one endpoint for variants of one query (as `url_for` would, but with one
    `url_for` call per view: a result page has a link per facet value; see `web.urls`)."""

    def __init__(self, endpoint: str, query: Query, default_page_size: int) -> None:
        self.query, self.default = query, default_page_size
        self.base = url_for(endpoint)

    def page(self, number: int) -> str:
        return query_url(self.base, query_params(self.query, self.default, page=number))

    def cursor(self, cursor: str) -> str:
        return query_url(self.base, query_params(self.query, self.default, cursor=cursor))

    def filters(self, filters: Mapping[str, tuple[str, ...]]) -> str:
        return query_url(self.base, query_params(self.query, self.default, filters=filters, page=1))


def _facet_views(result: SearchResult, urls: _Urls) -> tuple[FacetView, ...]:
    selected = result.query.filters
    labels = FacetLabels()
    views = []
    for facet in result.facets:
        chosen = selected.get(facet.name, ())
        chosen_set = set(chosen)
        values = [
            ValueView(
                value=v.value,
                label=labels.value(facet.name, v.value, v.label),
                count=v.count,
                selected=v.selected or v.value in chosen_set,
                toggle_url=urls.filters(toggled(selected, facet.name, v.value)),
            )
            for v in facet.values
        ]
        # a selected value with no hits left must still be shown so it can be switched off
        shown = {v.value for v in values}
        values += [
            ValueView(v, labels.value(facet.name, v), 0, True, urls.filters(toggled(selected, facet.name, v)))
            for v in chosen
            if v not in shown
        ]
        spec = FACETS_BY_NAME.get(facet.name)
        views.append(
            FacetView(facet.name, labels.facet(facet.name), tuple(values), spec.parent if spec else None)
        )
    return _nested(views)


def _nested(views: list[FacetView]) -> tuple[FacetView, ...]:
    """The views with each drill-down value also listed under the parent value it extends
    (deepest first, so children carry their own children). A child labelled like its parent
    (ISCED-F 061 "ICTs" under 06 "ICTs") is not listed as a level of its own: its children
    take its place."""
    by_name = {view.name: view for view in views}
    for view in reversed(views):
        if view.parent is None or view.parent not in by_name:
            continue
        parent = by_name[view.parent]
        # children grouped by the parent value they extend, found by their prefixes: linear
        known = {v.value for v in parent.values}
        lengths = sorted({len(value) for value in known})
        under: dict[str, list[ValueView]] = {}
        for child in by_name[view.name].values:  # with the children given to it already
            for n in lengths:
                if n < len(child.value) and child.value[:n] in known:
                    under.setdefault(child.value[:n], []).append(child)
        values = tuple(replace(v, children=_distinct(v, under.get(v.value, ()))) for v in parent.values)
        by_name[parent.name] = replace(parent, values=values)
    return tuple(by_name[view.name] for view in views)


def _distinct(parent: ValueView, children: Iterable[ValueView]) -> tuple[ValueView, ...]:
    """`children` of `parent` without a level that repeats the parent's label: such a child's
    own children take its place once it has some (it is selected: switching the parent off
    drops it too), else it stays as the way into them, labelled as such."""
    kept: list[ValueView] = []
    for child in children:
        if child.label.casefold() != parent.label.casefold():
            kept.append(child)
        elif child.children:
            kept.extend(child.children)
        elif not child.selected:
            kept.append(replace(child, label=gettext("%(field)s: detailed fields", field=child.label)))
    return tuple(kept)


def _active(result: SearchResult, facets: tuple[FacetView, ...]) -> tuple[ValueView, ...]:
    by_value = {f.name: {v.value: v for v in f.values} for f in facets}
    active: list[ValueView] = []
    for name, values in result.query.filters.items():
        views = by_value.get(name, {})
        active.extend(views[value] for value in values if value in views)
    return tuple(active)


def current_page(result: SearchResult) -> int:
    """The page number of a result, also when it was reached by a cursor."""
    return result.start // result.query.page_size + 1


def _page_links(result: SearchResult, urls: _Urls) -> tuple[PageLink, ...]:
    last, current = min(result.pages, MAX_PAGE), current_page(result)
    wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    links: list[PageLink] = []
    for number in wanted:
        if links and links[-1].number is not None and number - links[-1].number > 1:
            links.append(PageLink(None, None))
        links.append(PageLink(number, urls.page(number), number == current))
    return tuple(links)


def build_view(result: SearchResult, endpoint: str, default_page_size: int) -> SearchView:
    """Facet values with labels and toggle urls, active filters and paging links for `endpoint`."""
    query = result.query
    urls = _Urls(endpoint, query, default_page_size)
    facets = _facet_views(result, urls)
    last, current = min(result.pages, MAX_PAGE), current_page(result)
    links = {
        "self": urls.cursor(query.cursor) if query.cursor else urls.page(current),
        "first": urls.page(1),
        "last": urls.page(last),
        "next": urls.cursor(result.next_cursor) if result.next_cursor else None,
        "prev": urls.page(min(current - 1, last)) if current > 1 else None,
    }
    return SearchView(
        result=result,
        facets=facets,
        active=_active(result, facets),
        links=links,
        pages=_page_links(result, urls),
        clear_url=urls.filters({}),
    )
