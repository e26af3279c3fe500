"""The releasability policy (`policy.decide`) as properties over any markings, any partner
registrations and any recipient: the promises its docstring makes, checked one by one.

The holder is `jcg`. Partners, their purposes and personal-data registrations are drawn, so the
properties do not lean on the demo's configuration (tests/unit/test_policy.py does that).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from mdx.core import policy
from mdx.core.policy import Decision, Marked, decide
from mdx.core.settings import NodeSection, NodeSettings, PartnerSection
from tests.property.strategies import TLPS

HOLDER = "jcg"
NODES = ("jcg", "kcg", "uscg", "pcg", "other")
# A few purposes, so that items and registrations meet often.
SOME_PURPOSES = ("SAR", "Safety", "FisheriesMonitoring", "Security")
EXPOSURE = {Decision.WITHHOLD: 0, Decision.REDACT: 1, Decision.RELEASE: 2}


@st.composite
def node_settings(draw: st.DrawFn) -> NodeSettings:
    """The holder with some of kcg, uscg and pcg as partners, each with its registrations."""
    partner_ids = draw(st.lists(st.sampled_from(NODES[1:4]), unique=True))
    partners = [
        PartnerSection(
            id=pid,
            broker_port=1883,
            api_url=f"http://{pid}.example",
            public_key=Path(f"{pid}.pem"),
            purposes=draw(st.lists(st.sampled_from(SOME_PURPOSES), unique=True)),
            personal_data=draw(st.booleans()),
        )
        for pid in partner_ids
    ]
    # model_construct: the policy reads node and partners only, and the environment (which
    # full validation reads, slowly) must not change the holder.
    return NodeSettings.model_construct(node=NodeSection(id=HOLDER), partners=partners)


any_label = st.sampled_from(TLPS)


@st.composite
def items(draw: st.DrawFn, tlp: st.SearchStrategy[str] = any_label) -> Marked:
    return Marked(
        origin=draw(st.sampled_from(NODES[:4])),
        tlp=draw(tlp),
        relto=tuple(draw(st.lists(st.sampled_from(NODES), unique=True, max_size=3))),
        purpose=draw(st.none() | st.sampled_from(SOME_PURPOSES)),
        personal_data=draw(st.booleans()),
    )


recipients = st.sampled_from(NODES)
others = st.sampled_from(NODES[1:])  # anyone but the holder


@given(items(), node_settings())
def test_the_holders_own_operators_see_everything(item: Marked, settings: NodeSettings) -> None:
    assert decide(item, HOLDER, settings).decision == Decision.RELEASE


@given(items(), node_settings())
def test_an_item_never_goes_back_to_its_origin(item: Marked, settings: NodeSettings) -> None:
    if item.origin != HOLDER:
        assert decide(item, item.origin, settings).decision == Decision.WITHHOLD


@given(items(tlp=st.sampled_from(["RED", "AMBER+STRICT"])), others, node_settings())
def test_red_and_amber_strict_never_leave_the_holder(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    assert decide(item, recipient, settings).decision == Decision.WITHHOLD


@given(items(tlp=st.just("AMBER")), others, node_settings())
def test_amber_goes_only_to_the_nodes_in_relto(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    if recipient not in item.relto:
        assert decide(item, recipient, settings) == policy.Verdict(
            Decision.WITHHOLD, "origin" if recipient == item.origin else "tlp-amber-relto"
        )


@given(items(tlp=st.just("GREEN")), others, node_settings())
def test_green_goes_only_to_partners(item: Marked, recipient: str, settings: NodeSettings) -> None:
    if settings.partner(recipient) is None:
        assert decide(item, recipient, settings).decision == Decision.WITHHOLD


@given(items(tlp=st.text().filter(lambda t: t not in TLPS)), others, node_settings())
def test_an_unknown_label_is_withheld(item: Marked, recipient: str, settings: NodeSettings) -> None:
    assert decide(item, recipient, settings).decision == Decision.WITHHOLD


@given(items(), others, node_settings())
def test_a_purpose_limits_all_but_clear_to_partners_registered_for_it(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    partner = settings.partner(recipient)
    registered = partner.purposes if partner is not None else []
    if item.tlp != "CLEAR" and item.purpose is not None and item.purpose not in registered:
        assert decide(item, recipient, settings).decision == Decision.WITHHOLD


@given(items(), others, node_settings())
def test_personal_data_reaches_only_partners_registered_for_it(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    decision = decide(item, recipient, settings).decision
    if decision == Decision.REDACT:
        assert item.personal_data
    partner = settings.partner(recipient)
    if item.personal_data and not (partner is not None and partner.personal_data):
        assert decision != Decision.RELEASE


@given(items(), others, node_settings())
def test_a_partners_item_is_never_passed_on_more_widely_than_the_holder_may_share_its_own(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    """Re-sharing never gives more than the same markings would if the holder were the origin."""
    passed_on = decide(item, recipient, settings).decision
    own = Marked(HOLDER, item.tlp, item.relto, item.purpose, item.personal_data)
    assert EXPOSURE[passed_on] <= EXPOSURE[decide(own, recipient, settings).decision]


@example(  # found by this test: AMBER reached a node in relto that is no partner; GREEN did not
    Marked("jcg", "AMBER", ("other",), None, False),
    "other",
    NodeSettings.model_construct(node=NodeSection(id=HOLDER), partners=[]),
)
@given(items(), recipients, node_settings())
def test_a_stricter_label_never_releases_more(
    item: Marked, recipient: str, settings: NodeSettings
) -> None:
    """Withheld (or redacted) at one TLP level, an item is so at every stricter level."""
    exposure = [EXPOSURE[decide(_with_tlp(item, t), recipient, settings).decision] for t in TLPS]
    assert exposure == sorted(exposure, reverse=True), list(zip(TLPS, exposure, strict=True))


json_data = st.dictionaries(
    st.sampled_from(["title", "persons", "persons_at_risk", "status", "notes", "x"]),
    st.none() | st.integers() | st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=2),
)


@given(json_data)
def test_redaction_removes_personal_data_and_adds_nothing(data: dict[str, Any]) -> None:
    before = copy.deepcopy(data)
    redacted = policy.redact(data)
    assert data == before  # the original is left alone
    assert redacted.items() <= data.items()
    assert not set(redacted) & set(policy.PERSONAL_FIELDS)
    assert not policy.personal_data_of(redacted)
    assert {k: v for k, v in data.items() if k not in policy.PERSONAL_FIELDS} == redacted


def _with_tlp(item: Marked, tlp: str) -> Marked:
    return Marked(item.origin, tlp, item.relto, item.purpose, item.personal_data)
