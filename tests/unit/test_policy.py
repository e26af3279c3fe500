"""The releasability policy against an oracle written out plainly from the rules.

The oracle takes the partner registrations as literal tables copied from infra/nodes/*.toml, so
a change to either the policy or the demo's registrations shows up here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mdx.core import policy
from mdx.core.policy import Decision, Marked, Verdict, decide
from mdx.core.settings import NodeSettings, load_settings

NODES = Path(__file__).resolve().parents[2] / "infra" / "nodes"
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
RELTOS: tuple[tuple[str, ...], ...] = ((), ("kcg",), ("uscg",), ("kcg", "uscg"))
PURPOSES = (None, "SAR", "FisheriesMonitoring", "Security")

# partner -> (purposes it is registered for, may it receive personal data), per holder.
REGISTRATIONS: dict[str, dict[str, tuple[set[str], bool]]] = {
    "jcg": {
        "kcg": (
            {
                "SAR",
                "Safety",
                "FisheriesMonitoring",
                "LawEnforcementMonitoring",
                "EnvironmentResponse",
                "VTM",
            },
            False,
        ),
        "uscg": (
            {"SAR", "Safety", "LawEnforcementMonitoring", "Security", "EnvironmentResponse"},
            True,
        ),
    },
    "kcg": {
        "jcg": (
            {
                "SAR",
                "Safety",
                "FisheriesMonitoring",
                "LawEnforcementMonitoring",
                "EnvironmentResponse",
                "VTM",
            },
            False,
        ),
        "uscg": ({"SAR", "Safety", "Security"}, True),
    },
}


def oracle(
    holder: str,
    origin: str,
    tlp: str,
    relto: tuple[str, ...],
    purpose: str | None,
    personal: bool,
    recipient: str,
) -> Decision:
    partners = REGISTRATIONS[holder]
    if recipient == holder:
        return Decision.RELEASE
    if recipient == origin:
        return Decision.WITHHOLD
    may_have = {
        "CLEAR": True,
        "GREEN": recipient in partners,
        "AMBER": recipient in relto,
        "AMBER+STRICT": False,
        "RED": False,
    }[tlp]
    if not may_have:
        return Decision.WITHHOLD
    registered = partners[recipient][0] if recipient in partners else set()
    if purpose is not None and tlp != "CLEAR" and purpose not in registered:
        return Decision.WITHHOLD
    # Passing on a partner's item: never when it names people or a purpose limits it.
    if origin != holder and (personal or (purpose is not None and tlp != "CLEAR")):
        return Decision.WITHHOLD
    if personal and not (recipient in partners and partners[recipient][1]):
        return Decision.REDACT
    return Decision.RELEASE


# How much a decision gives away: comparing ranks tells a leak from a wrongful denial.
EXPOSURE = {Decision.WITHHOLD: 0, Decision.REDACT: 1, Decision.RELEASE: 2}


@pytest.fixture(scope="module")
def jcg() -> NodeSettings:
    return load_settings(NODES / "jcg.toml")


@pytest.fixture(scope="module")
def kcg() -> NodeSettings:
    return load_settings(NODES / "kcg.toml")


def _compare(settings: NodeSettings, origin: str, recipients: tuple[str, ...]) -> Counter[str]:
    holder = settings.node.id
    tally: Counter[str] = Counter()
    failures = []
    grid = itertools.product(TLPS, RELTOS, PURPOSES, (False, True), recipients)
    for tlp, relto, purpose, personal, recipient in grid:
        got = decide(Marked(origin, tlp, relto, purpose, personal), recipient, settings).decision
        want = oracle(holder, origin, tlp, relto, purpose, personal, recipient)
        tally["cases"] += 1
        tally[want.value] += 1
        if EXPOSURE[got] > EXPOSURE[want]:
            tally["leaks"] += 1
            failures.append(("leak", tlp, relto, purpose, personal, recipient, got, want))
        elif EXPOSURE[got] < EXPOSURE[want]:
            tally["denials"] += 1
            failures.append(("denial", tlp, relto, purpose, personal, recipient, got, want))
    assert failures == []
    return tally


def test_own_items_grid_has_no_leak_and_no_wrongful_denial(jcg: NodeSettings) -> None:
    tally = _compare(jcg, "jcg", ("jcg", "kcg", "uscg", "other"))
    assert tally["cases"] == 5 * 4 * 4 * 2 * 4
    assert (tally["leaks"], tally["denials"]) == (0, 0)
    # Every outcome occurs, so the grid exercises each branch.
    assert tally["release"] > 0 and tally["redact"] > 0 and tally["withhold"] > 0


def test_re_sharing_grid_has_no_leak_and_no_wrongful_denial(kcg: NodeSettings) -> None:
    tally = _compare(kcg, "jcg", ("jcg", "kcg", "uscg", "other"))
    assert tally["cases"] == 5 * 4 * 4 * 2 * 4
    assert (tally["leaks"], tally["denials"]) == (0, 0)
    # A partner's signed item is never redacted on the way: naming people, it is not passed on.
    assert tally["release"] > 0 and tally["redact"] == 0 and tally["withhold"] > 0


def test_the_demo_registrations_are_the_oracles(jcg: NodeSettings, kcg: NodeSettings) -> None:
    for settings in (jcg, kcg):
        got = {p.id: (set(p.purposes), p.personal_data) for p in settings.partners}
        assert got == REGISTRATIONS[settings.node.id]


R, W, X = Decision.RELEASE, Decision.WITHHOLD, Decision.REDACT


@pytest.mark.parametrize(
    ("holder", "item", "recipient", "expected"),
    [
        ("jcg", Marked("jcg", "RED", (), None, True), "jcg", Verdict(R, "local")),
        ("kcg", Marked("jcg", "CLEAR", (), None, False), "jcg", Verdict(W, "origin")),
        ("jcg", Marked("jcg", "RED", ("kcg",), None, False), "kcg", Verdict(W, "tlp-red")),
        (
            "jcg",
            Marked("jcg", "AMBER+STRICT", ("kcg", "uscg"), None, False),
            "kcg",
            Verdict(W, "tlp-amber-strict"),
        ),
        (
            "jcg",
            Marked("jcg", "AMBER", ("uscg",), None, False),
            "kcg",
            Verdict(W, "tlp-amber-relto"),
        ),
        ("jcg", Marked("jcg", "AMBER", ("kcg",), None, False), "kcg", Verdict(R, "tlp-amber")),
        ("jcg", Marked("jcg", "GREEN", (), None, False), "other", Verdict(W, "tlp-green-partners")),
        ("jcg", Marked("jcg", "GREEN", (), None, False), "kcg", Verdict(R, "tlp-green")),
        # TLP decides before purpose: the first rule that withholds is the one named.
        (
            "jcg",
            Marked("jcg", "GREEN", (), "Security", False),
            "other",
            Verdict(W, "tlp-green-partners"),
        ),
        (
            "jcg",
            Marked("jcg", "GREEN", (), "Security", False),
            "kcg",
            Verdict(W, "purpose-not-registered"),
        ),
        ("jcg", Marked("jcg", "GREEN", (), "Security", False), "uscg", Verdict(R, "tlp-green")),
        (
            "jcg",
            Marked("jcg", "AMBER", ("uscg",), "FisheriesMonitoring", False),
            "uscg",
            Verdict(W, "purpose-not-registered"),
        ),
        # CLEAR is public: no purpose restriction, even for a node that is no partner.
        ("jcg", Marked("jcg", "CLEAR", (), "Security", False), "other", Verdict(R, "tlp-clear")),
        (
            "jcg",
            Marked("jcg", "CLEAR", (), None, True),
            "other",
            Verdict(X, "personal-data-redacted"),
        ),
        (
            "jcg",
            Marked("jcg", "GREEN", (), "SAR", True),
            "kcg",
            Verdict(X, "personal-data-redacted"),
        ),
        ("jcg", Marked("jcg", "GREEN", (), "SAR", True), "uscg", Verdict(R, "tlp-green")),
        # Re-sharing judges by the holder's registrations: kcg has uscg for SAR, Safety, Security.
        (
            "kcg",
            Marked("jcg", "GREEN", (), "LawEnforcementMonitoring", False),
            "uscg",
            Verdict(W, "purpose-not-registered"),
        ),
        (
            "kcg",
            Marked("jcg", "AMBER", ("uscg",), "SAR", True),
            "uscg",
            Verdict(W, "reshare-personal-data"),
        ),
        (
            "kcg",
            Marked("jcg", "AMBER", ("uscg",), "SAR", False),
            "uscg",
            Verdict(W, "reshare-purpose"),
        ),
        ("kcg", Marked("jcg", "AMBER", ("uscg",), None, False), "uscg", Verdict(R, "tlp-amber")),
        ("kcg", Marked("jcg", "CLEAR", (), "SAR", False), "uscg", Verdict(R, "tlp-clear")),
        (
            "kcg",
            Marked("jcg", "AMBER", ("kcg",), None, False),
            "uscg",
            Verdict(W, "tlp-amber-relto"),
        ),
        # Unknown labels fail closed.
        ("jcg", Marked("jcg", "WHITE", (), None, False), "kcg", Verdict(W, "tlp-unknown")),
    ],
)
def test_rule_names(
    jcg: NodeSettings,
    kcg: NodeSettings,
    holder: str,
    item: Marked,
    recipient: str,
    expected: Verdict,
) -> None:
    assert decide(item, recipient, {"jcg": jcg, "kcg": kcg}[holder]) == expected


def test_personal_data_of_and_redact() -> None:
    persons = [{"name": "Taro Example", "role": "master"}]
    data: dict[str, Any] = {"title": "Capsized", "persons": persons, "persons_at_risk": 1}
    assert policy.personal_data_of(data)
    assert not policy.personal_data_of({"title": "Capsized", "persons": []})
    assert not policy.personal_data_of({"title": "Capsized"})
    redacted = policy.redact(data)
    assert redacted == {"title": "Capsized", "persons_at_risk": 1}
    assert data["persons"] == persons  # the original is untouched


def test_marked_from_row_reads_the_markings_and_the_data() -> None:
    row = SimpleNamespace(
        origin="kcg", tlp="AMBER", relto=["jcg"], purpose="SAR", data={"persons": [{"name": "A"}]}
    )
    assert policy.marked_from_row(row) == Marked("kcg", "AMBER", ("jcg",), "SAR", True)
    position = SimpleNamespace(origin="jcg", tlp="GREEN", relto=None, purpose=None)
    assert policy.marked_from_row(position) == Marked("jcg", "GREEN", (), None, False)
