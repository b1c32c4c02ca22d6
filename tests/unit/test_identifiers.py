import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.kernel.identifiers import (
    IdentifierType,
    collect,
    normalise,
    normalise_email,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Li.Na@Example.COM ", "li.na@example.com"), ("no-at-sign", None), ("a@b", None), ("a b@c.com", None)],
)
def test_emails_are_trimmed_lower_cased_and_checked(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+86 138-0013-8000", None, "+8613800138000"),
        ("0086 13800138000", None, "+8613800138000"),
        ("13800138000", "86", "+8613800138000"),
        ("020 7946 0958", "44", "+442079460958"),
        ("13800138000", None, None),  # national number and no default country: not a phone
        ("+12", None, None),
        ("+8613800138000123456", None, None),
        ("call me", "86", None),
    ],
)
def test_phones_become_e164(raw, country, expected):
    assert normalise_phone(raw, default_country_code=country) == expected


@pytest.mark.parametrize(
    "junk", [None, "", "  ", "null", "undefined", "0", "-1", "0000-0000", "anonymous", "Guest", True, {}]
)
def test_junk_values_never_become_identifiers(junk):
    assert normalise(IdentifierType.ANONYMOUS_ID, junk) is None


def test_collect_keeps_first_occurrence_order_and_drops_duplicates():
    collected = collect(
        [
            (IdentifierType.EMAIL, "A@x.io"),
            (IdentifierType.USER_ID, 42),
            (IdentifierType.EMAIL, "a@X.io "),
        ]
    )
    assert [(i.type.value, i.value) for i in collected] == [("email", "a@x.io"), ("user_id", "42")]


@given(st.emails())
def test_email_normalisation_is_idempotent(email):
    once = normalise_email(email)
    if once is not None:
        assert normalise_email(once) == once


@given(st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True))
def test_e164_numbers_are_kept_as_they_are(number):
    assert normalise_phone(number) == number
