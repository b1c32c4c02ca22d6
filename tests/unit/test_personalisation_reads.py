"""A message's context reads only what its content uses: the loyalty account for points and
tiers, the segment state for the tier, nothing for a plain greeting. And one dispatch message's
sends read their program once."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from shared.domain.customers.profiles import Profile, TraitValue
from shared.domain.engagement.messaging import ChannelContent, placeholders
from shared.domain.engagement.models import Program
from shared.domain.engagement.personalisation import ProfilePersonaliser
from shared.domain.engagement.programs import ProgramsReadOnce

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
PROFILE = Profile(
    profile_id="p-1", created_at=NOW, traits={"first_name": TraitValue(value="Ann", at=NOW, by="t")}
)
PROGRAM = Program.model_validate(
    {
        "channels": ["email"],
        "variants": [{"variant_id": "v", "content": {"email": {"subject": "Hi", "body": "Hi"}}}],
    }
)


class Counting:
    def __init__(self, answer):
        self.answer, self.reads = answer, []

    def state(self, profile_id):
        self.reads.append(profile_id)
        return self.answer

    def account(self, profile_id):
        self.reads.append(profile_id)
        return self.answer


def _personaliser():
    state = SimpleNamespace(
        segments={"vip": NOW},
        classification=SimpleNamespace(
            tier=SimpleNamespace(value="gold"),
            price_sensitivity=SimpleNamespace(value="low"),
            stage=SimpleNamespace(value="loyal"),
        ),
    )
    classifications, accounts = Counting(state), Counting(SimpleNamespace(balance=120, tier="silver"))
    return ProfilePersonaliser(classifications=classifications, accounts=accounts), classifications, accounts


def _context(personaliser, names, facts=None):
    return personaliser.context(
        PROFILE, PROGRAM, "email", dispatch_key="k", issue_coupon=False, names=names, facts=facts
    )


def test_a_greeting_reads_neither_the_account_nor_the_segment_state():
    personaliser, classifications, accounts = _personaliser()
    context = _context(personaliser, placeholders(ChannelContent(body="Hi {{ first_name }}")))
    assert context["first_name"] == "Ann"
    assert (classifications.reads, accounts.reads) == ([], [])


def test_points_read_the_account_and_the_tier_reads_the_state_once():
    personaliser, classifications, accounts = _personaliser()
    assert _context(personaliser, {"points"})["points"] == 120
    assert (len(classifications.reads), len(accounts.reads)) == (0, 1)
    assert _context(personaliser, {"tier"})["tier"] == "gold"
    assert (len(classifications.reads), len(accounts.reads)) == (1, 2)


def test_facts_already_read_for_the_variant_are_not_read_again():
    personaliser, classifications, _accounts = _personaliser()
    facts = personaliser.facts(PROFILE)
    assert _context(personaliser, {"tier"}, facts)["tier"] == "gold"
    assert len(classifications.reads) == 1  # the one read that chose the variant


def test_without_names_everything_is_read_as_before():
    personaliser, classifications, accounts = _personaliser()
    context = _context(personaliser, None)
    assert (context["points"], context["tier"]) == (120, "gold")
    assert (len(classifications.reads), len(accounts.reads)) == (1, 1)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (ChannelContent(body="Hi {{ first_name | there }}, {{points}} points"), {"first_name", "points"}),
        (
            ChannelContent(subject="{{ tier }}", body="x", url="https://x/{{ coupon_code }}"),
            {"tier", "coupon_code"},
        ),
        (ChannelContent(body="x", template_id="t", fields={"a": "{{ last_name }}"}), {"last_name"}),
    ],
)
def test_placeholders_are_the_names_the_content_asks_for(content, names):
    assert placeholders(content) == names


def test_one_message_reads_each_of_its_programs_once():
    reads = []

    class Directory:
        def program(self, program_id, run_key):
            reads.append((program_id, run_key))
            return (PROGRAM, "active")

    programs = ProgramsReadOnce(Directory())
    for _ in range(20):
        assert programs.program("c-1", "r-1") == (PROGRAM, "active")
    programs.program("c-1", "r-2")
    assert reads == [("c-1", "r-1"), ("c-1", "r-2")]
