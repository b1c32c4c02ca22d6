"""The official segment-analytics-python client, pointed at the local stack, just works."""

import pytest
from segment.analytics import Client

from tests.e2e.test_local_stack import SERVER_WRITE_KEY, get_touchpoint, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_every_call_of_the_official_client_arrives_as_a_touchpoint(stack, gzip):
    errors = []
    client = Client(
        write_key=SERVER_WRITE_KEY,  # a server library: the brand's backend's server-side source
        host=stack.url(""),
        sync_mode=True,
        gzip=gzip,
        max_retries=0,
        on_error=lambda e, b: errors.append(e),
    )
    tag = "gz" if gzip else "plain"
    client.identify("u-seg", {"email": "Seg.User@Example.com", "plan": "gold"}, message_id=f"{tag}-identify")
    client.track(
        "u-seg",
        "Order Completed",
        {"order_id": "o-1", "total": 99.5, "currency": "CNY"},
        message_id=f"{tag}-track",
    )
    client.page("u-seg", category="Docs", name="Setup", message_id=f"{tag}-page")
    client.screen("u-seg", category="App", name="Cart", message_id=f"{tag}-screen")
    client.group("u-seg", "g-42", {"name": "Acme"}, message_id=f"{tag}-group")
    client.alias("anon-7", "u-seg", message_id=f"{tag}-alias")
    client.flush()
    assert errors == []

    expected = {
        "identify": "identify",
        "track": "order",
        "page": "page",
        "screen": "screen",
        "group": "group",
        "alias": "alias",
    }
    for call, kind in expected.items():
        _status, body = wait_for(
            lambda call=call: (found := get_touchpoint(stack, f"{tag}-{call}"))[0] == 200 and found,
            timeout=30,
            what=f"the {call} call",
        )
        assert body["type"] == kind
        assert {"type": "user_id", "value": "u-seg"} in body["identifiers"]
    _, identify = get_touchpoint(stack, f"{tag}-identify")
    assert {"type": "email", "value": "seg.user@example.com"} in identify["identifiers"]
    assert identify["context"]["library"]["name"] == "analytics-python"
