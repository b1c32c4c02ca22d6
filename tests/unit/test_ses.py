"""SES events via SNS, signed exactly as SNS signs them (RSA over the canonical string, with the
certificate at SigningCertURL); the certificate fetch is injected so this runs offline."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from functions.api.app import app
from shared import wiring
from shared.domain.ingest.channels.ses import string_to_sign
from shared.domain.ingest.touchpoints import Channel, Source, SourceKind
from shared.wiring import ingest as ingest_wiring
from tests.fakes import FakeClock, InMemorySourceRegistry, InMemoryTouchpointQueue

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


KEY, CERT_PEM = _certificate()


class FakeCertificates:
    def __init__(self):
        self.fetched = []

    def pem(self, url):
        self.fetched.append(url)
        return CERT_PEM


class FakeSubscriptions:
    def __init__(self):
        self.confirmed = []

    def confirm(self, url):
        self.confirmed.append(url)


def signed(message: dict, *, version: str = "1", key=KEY) -> dict:
    message = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS version 1)
    message["Signature"] = base64.b64encode(
        key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    ).decode()
    return message


def notification(event: dict, *, message_id="sns-1", topic=TOPIC) -> dict:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": json.dumps(event),
        "Timestamp": "2026-11-24T08:59:00.000Z",
    }


def ses_event(event_type: str, detail: dict) -> dict:
    mail = {
        "messageId": "ses-msg-1",
        "timestamp": "2026-11-24T08:00:00.000Z",
        "destination": ["Ann@Example.com", "bob@example.com"],
        "tags": {"campaign": ["spring"]},
    }
    return {"eventType": event_type, "mail": mail, event_type[0].lower() + event_type[1:]: detail}


@pytest.fixture
def ports(monkeypatch):
    registry = InMemorySourceRegistry()
    registry.add(
        Source(source_id="mail", name="SES", kind=SourceKind.SES, channel=Channel.EMAIL, app_id=TOPIC)
    )
    queue, certificates, subscriptions = InMemoryTouchpointQueue(), FakeCertificates(), FakeSubscriptions()
    monkeypatch.setattr(ingest_wiring, "get_source_registry", lambda: registry)
    monkeypatch.setattr(ingest_wiring, "get_touchpoint_queue", lambda: queue)
    monkeypatch.setattr(wiring, "get_clock", lambda: FakeClock(NOW))
    monkeypatch.setattr(ingest_wiring, "get_sns_certificates", lambda: certificates)
    monkeypatch.setattr(ingest_wiring, "get_sns_subscriptions", lambda: subscriptions)
    return queue, certificates, subscriptions


@pytest.fixture
def client():
    with Client(app) as test_client:
        yield test_client


def post(client, message: dict | bytes):
    body = message if isinstance(message, bytes) else json.dumps(message)
    return client.http.post(
        "/webhooks/ses/mail", headers={"Content-Type": "text/plain; charset=UTF-8"}, body=body
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_delivery_signed_by_sns_becomes_an_email_event(client, ports, version):
    queue, certificates, _ = ports
    response = post(
        client,
        signed(notification(ses_event("Delivery", {"timestamp": "2026-11-24T08:00:05Z"})), version=version),
    )
    assert (response.status_code, json.loads(response.body)) == (200, {"received": True, "ignored": False})
    (touchpoint,) = queue.sent
    assert (touchpoint.touchpoint_id, touchpoint.event, touchpoint.type.value) == (
        "ses:mail:sns-1",
        "email.delivery",
        "email_event",
    )
    assert [i.value for i in touchpoint.identifiers] == ["ann@example.com", "bob@example.com"]
    assert touchpoint.properties["tags"] == {"campaign": ["spring"]}
    assert certificates.fetched == [CERT_URL]


@pytest.mark.parametrize(
    ("event_type", "detail", "recipients", "consent"),
    [
        ("Open", {"timestamp": "2026-11-24T08:10:00Z"}, ["ann@example.com", "bob@example.com"], []),
        (
            "Click",
            {"link": "https://shop.example/p/1", "timestamp": "2026-11-24T08:11:00Z"},
            ["ann@example.com", "bob@example.com"],
            [],
        ),
        (
            "Bounce",
            {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "bob@example.com"}]},
            ["bob@example.com"],
            [],
        ),
        (
            "Complaint",
            {"complainedRecipients": [{"emailAddress": "ann@example.com"}]},
            ["ann@example.com"],
            [("email", "revoked")],
        ),
    ],
)
def test_open_click_bounce_and_complaint(client, ports, event_type, detail, recipients, consent):
    queue, _, _ = ports
    assert post(client, signed(notification(ses_event(event_type, detail)))).status_code == 200
    (touchpoint,) = queue.sent
    assert touchpoint.event == f"email.{event_type.lower()}"
    assert [i.value for i in touchpoint.identifiers] == recipients
    assert [(c.channel.value, c.status.value) for c in touchpoint.consent] == consent


def test_a_subscription_confirmation_is_confirmed_and_not_enqueued(client, ports):
    queue, _, subscriptions = ports
    url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t"
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "sub-1",
        "TopicArn": TOPIC,
        "Token": "t",
        "Message": "You have chosen to subscribe",
        "SubscribeURL": url,
        "Timestamp": "2026-11-24T08:00:00Z",
    }
    assert post(client, signed(message)).status_code == 200
    assert subscriptions.confirmed == [url]
    assert queue.sent == []


def test_a_tampered_message_is_401_and_nothing_is_enqueued(client, ports):
    queue, _, _ = ports
    message = signed(notification(ses_event("Delivery", {})))
    message["Message"] = message["Message"].replace("bob@example.com", "eve@example.com")
    assert post(client, message).status_code == 401
    assert queue.sent == []


def test_a_message_signed_by_another_key_is_401(client, ports):
    other, _ = _certificate()
    assert post(client, signed(notification(ses_event("Delivery", {})), key=other)).status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.io/cert.pem",
        "https://evil.io/sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",
    ],
)
def test_a_certificate_from_anywhere_but_sns_is_never_fetched(client, ports, url):
    _, certificates, _ = ports
    message = signed(notification(ses_event("Delivery", {})))
    message["SigningCertURL"] = url
    assert post(client, message).status_code == 401
    assert certificates.fetched == []


def test_a_genuine_sns_message_from_another_topic_is_403_before_any_certificate_is_fetched(client, ports):
    queue, certificates, _ = ports
    other_topic = "arn:aws:sns:us-east-1:999999999999:someone-else"
    assert post(client, signed(notification(ses_event("Delivery", {}), topic=other_topic))).status_code == 403
    assert queue.sent == [] and certificates.fetched == []


def test_certificates_are_cached_for_a_few_urls_only(monkeypatch):
    """URLs are chosen by whoever sends the message: the cache stays small however many."""
    from shared.adapters import sns

    fetched = []
    monkeypatch.setattr(sns, "_get", lambda url: fetched.append(url) or b"pem")
    certificates = sns.HttpsSnsCertificates()
    for number in range(200):
        certificates.pem(f"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-{number}.pem")
    certificates.pem("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-199.pem")
    assert certificates.cached() == sns.MAX_CACHED_CERTIFICATES and len(fetched) == 200


def test_not_an_sns_message_is_400(client, ports):
    assert post(client, b'{"hello": "world"}').status_code == 400


def test_an_ses_source_needs_its_topic_arn(client, ports, monkeypatch):
    monkeypatch.setenv("ADMIN_API_KEY_SHA256", "0" * 64)
    from shared.domain.ingest.sources import NewSource, create_source
    from shared.domain.kernel.errors import InvalidInputError

    registry = InMemorySourceRegistry()
    with pytest.raises(InvalidInputError, match="topic ARN"):
        create_source(NewSource(source_id="m", name="M", kind="ses", channel="email"), registry=registry)
    source, credentials = create_source(
        NewSource(source_id="m", name="M", kind="ses", channel="email", app_id=TOPIC), registry=registry
    )
    assert (source.app_id, credentials.signing_secret, credentials.write_key) == (TOPIC, None, None)
