"""Eligibility schemes: the rule language, evaluation reasons, manual decisions, and the scheme feed
kept in commit order by the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from course_catalogue.catalogue.changes import CourseStatus
from course_catalogue.catalogue.eligibility import (
    ALL_MET,
    ManualDecision,
    Reason,
    Scheme,
    decide,
    evaluate,
    parse_rules,
    rules_to_data,
)
from course_catalogue.catalogue.errors import Conflict, NotFound
from course_catalogue.catalogue.model import Location, Organisation, Price, Workload, lang_text
from course_catalogue.catalogue.store import CatalogueStore
from tests.registries import make_course, publish
from tests.schemes import EligibilityStore
from tests.sinks import EligibilitySink


def scheme(rules: list[dict[str, Any]], accredited: tuple[str, ...] = (), sid: str = "fund") -> Scheme:
    return Scheme(id=sid, name="Fund", owner=None, rules=parse_rules(rules), accredited=accredited)


def rule(field: str, op: str, value: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "r", "field": field, "op": op}
    if value is not None:
        data["value"] = value
    return data


BASE = make_course("a")
NO_QA = make_course("b", quality_assurance={}, price=None, eqf_level=None, workload=Workload())
ABROAD = make_course(
    "c",
    provider=Organisation(name=lang_text({"en": "Uni Yon"}), country="DEU", identifier="urn:uni-yon"),
    locations=(Location(country="AUT"), Location(country="DEU")),
    modes=("online",),
)

# (course, field, op, value, expected)
TABLE: list[tuple[Any, str, str, Any, bool]] = [
    (BASE, "quality_assurance", "present", None, True),
    (NO_QA, "quality_assurance", "present", None, False),
    (NO_QA, "quality_assurance", "absent", None, True),
    (BASE, "eqf_level", "between", [3, 7], True),
    (BASE, "eqf_level", "between", [6, 7], False),
    (NO_QA, "eqf_level", "between", [1, 8], False),  # absent fails comparisons
    (BASE, "workload.ects", "gte", 1, True),
    (BASE, "workload.ects", "gt", 5, False),
    (BASE, "workload.ects", "lte", 5, True),
    (BASE, "workload.ects", "lt", 5.5, True),
    (BASE, "price.amount", "lt", 100, False),
    (BASE, "price.amount", "lte", 100, True),
    (BASE, "provider.country", "in", ["FRA", "BEL"], True),
    (BASE, "provider.country", "in", ["fra"], True),  # text compares case-insensitively
    (ABROAD, "provider.country", "not_in", ["FRA"], True),
    (BASE, "provider.country", "not_in", ["FRA"], False),
    (NO_QA, "price.currency", "not_in", ["USD"], True),  # absent: nothing excluded
    (BASE, "provider.country", "eq", "FRA", True),
    (BASE, "eqf_level", "eq", 5, True),
    (BASE, "eqf_level", "eq", "5", True),
    (BASE, "languages", "eq", "fr", True),  # multi-valued: any value
    (BASE, "languages", "in", ["de", "it"], False),
    (ABROAD, "locations.country", "eq", "AUT", True),
    (ABROAD, "modes", "in", ["online", "blended"], True),
    (BASE, "modes", "present", None, False),
    (BASE, "provider.name", "eq", "uni zed", True),
    (BASE, "provider_accredited", "present", None, True),  # no list: QA stated
    (NO_QA, "provider_accredited", "present", None, False),
    (BASE, "provider_accredited", "eq", True, True),
]


@pytest.mark.parametrize(("course", "field", "op", "value", "expected"), TABLE)
def test_rule_language(course: Any, field: str, op: str, value: Any, expected: bool) -> None:
    decision = evaluate(scheme([rule(field, op, value)]), course)
    assert decision.eligible is expected
    if not expected:
        assert decision.reasons[0].rule == "r" and decision.reasons[0].message


def test_accredited_list_checks_name_identifier_or_homepage() -> None:
    rules = [rule("provider_accredited", "present")]
    assert evaluate(scheme(rules, ("urn:uni-yon",)), ABROAD).eligible
    assert evaluate(scheme(rules, ("UNI ZED",)), BASE).eligible
    assert not evaluate(scheme(rules, ("urn:uni-yon",)), BASE).eligible  # QA alone is not enough now


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "x", "field": "eqf", "op": "present"}, "not a course field"),
        ({"id": "x", "field": "eqf_level", "op": "near", "value": 3}, "op must be one of"),
        ({"id": "x", "field": "eqf_level", "op": "between", "value": [3]}, "low, high"),
        ({"id": "x", "field": "eqf_level", "op": "gte", "value": "3"}, "must be a number"),
        ({"id": "x", "field": "modes", "op": "in", "value": "online"}, "non-empty list"),
        ({"id": "x", "field": "modes", "op": "present", "value": 1}, "takes no value"),
        ({"id": "X Y", "field": "modes", "op": "present"}, "slug"),
        ({"id": "x", "field": "modes", "op": "present", "extra": 1}, "unknown keys"),
        ({"id": "g", "any": []}, "non-empty list"),
        ({"id": "workload.ects.x", "field": "workload.ects.x", "op": "present"}, "not a course field"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules([bad])


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="used twice"):
        parse_rules([rule("eqf_level", "present"), rule("modes", "present")])


def test_reasons_name_every_failed_rule_and_groups_combine() -> None:
    rules = [
        {"id": "qa", "field": "quality_assurance", "op": "present", "message": "QA must be stated"},
        {"id": "eqf-range", "field": "eqf_level", "op": "between", "value": [3, 7]},
        {
            "id": "cheap-or-credits",
            "message": "free, or at least 1 ECTS",
            "any": [
                {"id": "free", "field": "price.amount", "op": "lte", "value": 0},
                {"id": "credits", "field": "workload.ects", "op": "gte", "value": 1},
            ],
        },
    ]
    parsed = parse_rules(rules)
    assert parse_rules(rules_to_data(parsed)) == parsed  # data round trip
    fund = Scheme("fund", "Fund", None, parsed)
    assert evaluate(fund, BASE).eligible
    assert evaluate(fund, BASE).reasons == (Reason("all", ALL_MET),)
    failed = evaluate(fund, NO_QA)
    assert not failed.eligible
    assert [(r.rule, r.message) for r in failed.reasons] == [
        ("qa", "QA must be stated"),
        ("eqf-range", "eqf level must be between 3 and 7"),
        ("cheap-or-credits", "free, or at least 1 ECTS"),
    ]
    free = make_course("f", price=Price(Decimal("0"), None), workload=Workload())
    assert evaluate(fund, free).eligible


def test_manual_decisions_override_rules_but_never_a_withdrawal() -> None:
    fund = scheme([rule("eqf_level", "gte", 6)])
    assert not evaluate(fund, BASE).eligible
    now = datetime.now(UTC)
    yes = ManualDecision("fund", BASE.id, True, "approved by board", "reg", now)
    from course_catalogue.catalogue.changes import StoredCourse

    stored = StoredCourse(BASE, CourseStatus.ACTIVE, "h", 1, now, now)
    decided = decide(fund, stored, yes)
    assert decided.eligible and decided.manual and "approved by board" in decided.reasons[0].message
    gone = StoredCourse(BASE, CourseStatus.WITHDRAWN, "h", 2, now, now, withdrawn_at=now)
    assert decide(fund, gone, yes).reasons[0].rule == "withdrawn"
    assert not decide(fund, gone, yes).eligible


# --- the store --------------------------------------------------------------------------------------


def _eligible_store(store: CatalogueStore) -> tuple[EligibilityStore, EligibilitySink]:
    es = EligibilityStore(store)
    return es, EligibilitySink(es)


def test_scheme_crud_and_evaluation_on_create(store: CatalogueStore) -> None:
    es, sink = _eligible_store(store)
    publish(store, {"a": {}, "b": {"eqf_level": 2}}, [sink])
    created = es.create_scheme(scheme([{"id": "eqf", "field": "eqf_level", "op": "gte", "value": 3}]))
    assert created.created_at is not None
    with pytest.raises(Conflict):
        es.create_scheme(created)
    assert [s.id for s in es.list_schemes()] == ["fund"]
    a, b = make_course("a").id, make_course("b").id
    assert es.eligible_course_ids("fund") == [a]
    mine = es.get_eligibility("fund", b)
    assert not mine.eligible and mine.reasons[0].rule == "eqf" and mine.seq is None  # never in the feed
    assert es.eligible_schemes([a, b]) == {a: ["fund"]}
    with pytest.raises(NotFound):
        es.get_scheme("nope")


def test_sink_rules_change_and_decision_keep_eligibility_current(store: CatalogueStore) -> None:
    es, sink = _eligible_store(store)
    es.create_scheme(scheme([{"id": "eqf", "field": "eqf_level", "op": "gte", "value": 3}]))
    publish(store, {"a": {}, "b": {"eqf_level": 2}}, [sink])
    a, b = make_course("a").id, make_course("b").id
    assert es.eligible_course_ids("fund") == [a]
    since = es.get_eligibility("fund", a).since
    # an update that keeps it eligible: same `since`, but a new feed entry (new record)
    seq_before = es.get_eligibility("fund", a).seq
    publish(store, {"a": {"eqf_level": 4}, "b": {"eqf_level": 2}}, [sink])
    after = es.get_eligibility("fund", a)
    assert (
        after.since == since and after.seq is not None and seq_before is not None and after.seq > seq_before
    )
    # rules change: all courses re-evaluated
    fund = es.get_scheme("fund")
    es.update_scheme(Scheme(fund.id, fund.name, None, parse_rules([rule("eqf_level", "lte", 3)])))
    assert es.eligible_course_ids("fund") == [b]
    # manual decision: kept, and overriding
    es.set_decision(ManualDecision("fund", a, True, "exception", "reg", datetime.now(UTC)))
    assert es.eligible_course_ids("fund") == [a, b]
    assert [d.course_id for d in es.list_decisions("fund")] == [a] and es.get_eligibility("fund", a).manual
    # withdrawal of an eligible course: a tombstone in the feed
    publish(store, {"a": {"eqf_level": 4}}, [sink])
    assert es.eligible_course_ids("fund") == [a]
    last = es.eligibility_changes_since("fund", 0)[-1]
    assert last.course_id == b and not last.upsert and last.stored.status is CourseStatus.WITHDRAWN
    es.clear_decision("fund", a)
    assert es.eligible_course_ids("fund") == []


def _replay(es: EligibilityStore, cursor: int, have: set[str], page: int) -> tuple[int, bool]:
    entries = es.eligibility_changes_since("fund", cursor, limit=page)
    seqs = [e.seq for e in entries]
    assert seqs == sorted(seqs) and all(s > cursor for s in seqs)
    for entry in entries:
        (have.add if entry.upsert else have.discard)(entry.course_id)
    return (seqs[-1] if seqs else cursor), len(entries) == page


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replaying_the_scheme_feed_gives_the_eligible_set(store: CatalogueStore, seed: int) -> None:
    """Random harvests, rule changes and decisions between pages of a consumer reading with a
    small page size; at the end its set is exactly the current eligible set."""
    rnd = random.Random(seed)
    es, sink = _eligible_store(store)
    es.create_scheme(scheme([{"id": "eqf", "field": "eqf_level", "op": "between", "value": [3, 6]}]))
    refs = [f"r{i}" for i in range(12)]
    have: set[str] = set()
    cursor = 0
    for _ in range(12):
        step = rnd.random()
        if step < 0.6:
            chosen = rnd.sample(refs, rnd.randint(3, len(refs)))
            publish(store, {ref: {"eqf_level": rnd.randint(1, 8)} for ref in chosen}, [sink])
        elif step < 0.8:
            low = rnd.randint(1, 5)
            es.update_scheme(
                Scheme("fund", "Fund", None, parse_rules([rule("eqf_level", "between", [low, low + 3])]))
            )
        else:
            known = [c.id for c in store.iter_courses()]
            if known:
                verdict = rnd.random() < 0.5
                es.set_decision(
                    ManualDecision("fund", rnd.choice(known), verdict, "", "reg", datetime.now(UTC))
                )
        for _ in range(rnd.randint(0, 2)):
            cursor, _more = _replay(es, cursor, have, page=rnd.randint(1, 3))
    more = True
    while more:
        cursor, more = _replay(es, cursor, have, page=2)
    assert have == set(es.eligible_course_ids("fund"))
    active = {c.id for c in store.iter_courses()}
    assert have <= active
