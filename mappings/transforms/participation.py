"""Form-of-participation normalisers: modes ("online", "onsite", ...) and learning schedules.

Results are codes of `catalogue.vocabularies.MODES` / `SCHEDULES`. Synonyms cover English,
French, German, Spanish, Italian and Dutch feed wording, plus the ELM concept IRIs and labels.
"""

from __future__ import annotations

from functools import cache

from catalogue.vocabularies import MODES, SCHEDULES, Term
from mappings.transforms.result import Result, fold, ok, warn

# Phrases separated by "|", matched whole after whitespace folding and case folding.
_MODE_SYNONYMS = {
    "online": "online|e-learning|elearning|distance|distance learning|remote|virtual|web-based|internet|mooc"
    "|à distance|a distance|en ligne|fernunterricht|fernstudium|a distancia|en línea|en linea|in linea"
    "|a distanza|op afstand",
    "onsite": "on-site|on site|onsite|presential|presence|in person|in-person|face-to-face|face to face"
    "|classroom|campus|on campus|présentiel|presentiel|en présentiel|en presentiel|präsenz"
    "|präsenzunterricht|vor ort|presencial|in presenza|klassikaal",
    "blended": "blended|blended learning|hybrid|hybride|mixed|mixte|multimodal|semipresencial"
    "|semi-presencial|misto|gemengd",
    "workbased": "work-based|work based|workbased|workplace|on the job|en entreprise|alternance|dual",
    "project": "project|project-based|project based",
    "research": "research|research-lab based|research lab based|laboratory|lab-based",
}
_SCHEDULE_SYNONYMS = {
    "full-time": "full-time|full time|fulltime|temps plein|vollzeit|tiempo completo|tempo pieno|voltijd",
    "part-time": "part-time|part time|parttime|temps partiel|teilzeit|tiempo parcial|tempo parziale|deeltijd",
    "part-time-light": "part time light|part-time light",
    "part-time-intensive": "part time intensive|part-time intensive",
    "self-paced": "self-paced|self paced|self-paced on your time|on demand|on-demand|anytime"
    "|à votre rythme|a votre rythme|selbstgesteuert|a tu ritmo",
    "scheduled": "instructor-led|instructor led|instructor-led on a course schedule|scheduled|cohort"
    "|cohort-based|fixed dates",
}


def _table(terms: dict[str, Term], synonyms: dict[str, str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, term in terms.items():
        table[fold(code)] = code
        table[fold(term.label)] = code
        if term.uri:
            table[term.uri.casefold()] = code
    for code, phrases in synonyms.items():
        for phrase in phrases.split("|"):
            table.setdefault(fold(phrase), code)
    return table


@cache
def _modes() -> dict[str, str]:
    return _table(MODES, _MODE_SYNONYMS)


@cache
def _schedules() -> dict[str, str]:
    return _table(SCHEDULES, _SCHEDULE_SYNONYMS)


def mode(value: str) -> Result[str]:
    """MODES code from "Online", "e-learning", "distance", "face-to-face", "hybrid", an ELM mode IRI."""
    code = _modes().get(fold(value).strip(" ."))
    return ok(code) if code else warn(f"unknown mode of participation {value[:80]!r}", "unknown-mode")


def schedule(value: str) -> Result[str]:
    """SCHEDULES code from "full time", "Self-paced on your time", "Instructor-led on a course schedule"."""
    code = _schedules().get(fold(value).strip(" ."))
    return ok(code) if code else warn(f"unknown learning schedule {value[:80]!r}", "unknown-schedule")
