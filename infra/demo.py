"""`make run ARGS=--demo`: a synthetic day of omnichannel traffic, sent over real HTTP to the
local stack, each channel signed the way it signs: Segment batches (web, app), Shopify orders
and customers, POS sales and call-center contacts (Standard Webhooks), WeChat events, SES email
events via SNS. People overlap across channels (the same email, phone, loyalty card, openid).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from shared.domain.ingest.channels.ses import string_to_sign
from shared.domain.ingest.member_tokens import sign_member_token
from shared.domain.ingest.signatures import wechat_signature

# The queues the demo's scenes wait on: the touchpoint pipeline, its bus consumers, the channel
# sync and dispatch (not the nightly recompute, exports or erasure).
SCENE_QUEUES = (
    "TouchpointQueue",
    "SegmentQueue",
    "LoyaltyQueue",
    "InventoryQueue",
    "ChannelSyncQueue",
    "EngagementQueue",
    "DispatchQueue",
)
RETRIES = 5  # a channel's retries of a request answered 503 or 429, or not answered in time
RETRY_FIRST_SECONDS = 1.0
SES_TOPIC = "arn:aws:sns:us-east-1:123456789012:omnireach-demo-ses"
SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-demo.pem"
# Demo-only credentials for sources the demo itself creates in the local stack.
SHOPIFY_SECRET = "shpss_demo_0123456789abcdef0123456789"  # noqa: S105
WECHAT_APP_ID = "wxdemo0000000001"
WECHAT_APP_SECRET = "demoappsecret0123456789abcdef"  # noqa: S105 (the demo's own)
WECHAT_TOKEN = "omnireachdemo"  # noqa: S105


class DemoSnsCertificates:
    """The demo signs SES events with its own key; the local stack serves its certificate as the
    one at the SNS URL (no internet here)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self._pem = certificate.public_bytes(serialization.Encoding.PEM)

    def pem(self, url: str) -> bytes:
        if url != SNS_CERT_URL:
            raise ValueError("the demo serves one certificate only")
        return self._pem


@dataclass(frozen=True)
class Person:
    index: int
    email: str
    phone: str
    anonymous_id: str
    user_id: str | None
    openid: str
    loyalty_card: str
    shop_customer_id: int


class DemoDay:
    def __init__(
        self,
        api_url: str,
        admin_key: str,
        certificates: DemoSnsCertificates,
        *,
        customers: int,
        seed: int = 7,
        backlog: Callable[[], int] | None = None,
        patience: float = 240.0,
        member_token_secret: str | None = None,
    ) -> None:
        """`backlog` counts the messages the stack still has queued; `patience` is how long a
        scene waits with nothing moving (the stack's longest redelivery wait plus one scheduler
        tick) before it gives up. While the backlog moves, a scene keeps waiting."""
        self.api_url, self.admin_key, self.certificates = api_url, admin_key, certificates
        self.member_token_secret = member_token_secret  # the brand backend's, to sign member tokens
        self.backlog, self.patience = backlog, patience
        self.customers = customers
        self.random = random.Random(seed)
        self.now = datetime.now(UTC)
        self.sent: Counter[str] = Counter()
        self.samples: dict[str, str] = {}
        self.credentials: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------ plumbing
    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """One request as a channel sends it: a 503 or 429, a timeout or a dropped connection is
        retried with back-off (1, 2, 4, 8, 16 s), as Segment's clients, Shopify and SNS retry;
        every request carries its own id, so a retry of one that did land is a duplicate."""
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(self.api_url + path, data=body, method=method, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=90) as response:  # noqa: S310 (the local API)
                    return int(response.status), response.read()
            except urllib.error.HTTPError as error:
                if error.code not in (429, 503) or attempt == RETRIES:
                    return int(error.code), error.read()
            except (TimeoutError, ConnectionError, urllib.error.URLError):
                if attempt == RETRIES:
                    raise
            time.sleep(RETRY_FIRST_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int:
        return self._exchange(method, path, body, headers)[0]

    def _sent(self, channel: str, status: int, sample_id: str | None = None) -> None:
        if status >= 300:
            raise RuntimeError(f"demo: {channel} was answered {status}")
        self.sent[channel] += 1
        if sample_id:
            self.samples.setdefault(channel, sample_id)

    def _moment(self) -> datetime:
        return self.now - timedelta(seconds=self.random.randint(60, 24 * 3600))

    def create_sources(self) -> None:
        definitions = [
            {
                "source_id": "demo-web",
                "name": "Web shop",
                "kind": "segment",
                "channel": "web",
                "default_country_code": "86",
            },
            {
                "source_id": "demo-app",
                "name": "Mobile app",
                "kind": "segment",
                "channel": "app",
                "default_country_code": "86",
            },
            # The web shop's and the app's backends report orders server-side (their keys never
            # ship in a page or an app): only these orders earn points and move stock.
            {
                "source_id": "demo-web-backend",
                "name": "Web shop backend",
                "kind": "segment",
                "channel": "web",
                "default_country_code": "86",
                "trust": "server",
            },
            {
                "source_id": "demo-app-backend",
                "name": "App backend",
                "kind": "segment",
                "channel": "app",
                "default_country_code": "86",
                "trust": "server",
            },
            {
                "source_id": "demo-shopify",
                "name": "Tmall-style shop",
                "kind": "shopify",
                "channel": "ecommerce",
                "signing_secret": SHOPIFY_SECRET,
            },
            {
                "source_id": "demo-pos",
                "name": "Store POS",
                "kind": "standard_webhooks",
                "channel": "pos",
                "default_country_code": "86",
            },
            {
                "source_id": "demo-callcenter",
                "name": "Call center",
                "kind": "standard_webhooks",
                "channel": "callcenter",
                "default_country_code": "86",
            },
            {
                "source_id": "demo-wechat",
                "name": "WeChat OA",
                "kind": "wechat",
                "channel": "wechat",
                "signing_secret": WECHAT_TOKEN,
                # with the AppSecret, each subscriber's unionid is looked up (the local stack's
                # simulated WeChat API answers it)
                "app_id": WECHAT_APP_ID,
                "app_secret": WECHAT_APP_SECRET,
            },
            {"source_id": "demo-ses", "name": "SES", "kind": "ses", "channel": "email", "app_id": SES_TOPIC},
            # The store's tills call the membership API with this key (the channel key).
            {
                "source_id": "demo-store-till",
                "name": "Store tills",
                "kind": "segment",
                "channel": "pos",
                "trust": "server",
            },
        ]
        for definition in definitions:
            request = urllib.request.Request(  # noqa: S310
                self.api_url + "/sources",
                data=json.dumps(definition).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {self.admin_key}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    self.credentials[definition["source_id"]] = json.loads(response.read())["credentials"]
            except urllib.error.HTTPError as error:
                if error.code != 409:  # already there from an earlier demo run in this stack
                    raise

    # ------------------------------------------------------------------ channels
    def segment(self, source_id: str, channel: str, events: list[dict[str, Any]]) -> None:
        key = self.credentials[source_id]["write_key"]
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "Content-Type": "application/json",
        }
        body = json.dumps({"batch": events, "sentAt": self.now.isoformat()}).encode()
        self._sent(channel, self._request("POST", "/v1/batch", body, headers), events[0].get("messageId"))
        self.sent[channel] += len(events) - 1

    def shopify(self, topic: str, payload: dict[str, Any], event_id: str) -> None:
        raw = json.dumps(payload).encode()
        signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Event-Id": event_id,
        }
        status = self._request("POST", "/webhooks/shopify/demo-shopify", raw, headers)
        # The touchpoint is named by the signed body (the headers are not signed).
        self._sent("ecommerce", status, f"shopify:demo-shopify:{hashlib.sha256(raw).hexdigest()[:40]}")

    def standard(self, source_id: str, channel: str, payload: dict[str, Any], webhook_id: str) -> None:
        secret = base64.b64decode(self.credentials[source_id]["signing_secret"].removeprefix("whsec_"))
        raw = json.dumps(payload).encode()
        timestamp = str(int(time.time()))
        signed = hmac.new(secret, f"{webhook_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(signed).decode(),
        }
        status = self._request("POST", f"/webhooks/standard/{source_id}", raw, headers)
        self._sent(channel, status, f"sw:{source_id}:{webhook_id}")

    def wechat(self, person: Person, event: str, at: datetime) -> None:
        timestamp, nonce = str(int(time.time())), str(self.random.randint(10**8, 10**9))
        created = int(at.timestamp())
        xml = (
            "<xml><ToUserName><![CDATA[gh_demo]]></ToUserName>"
            f"<FromUserName><![CDATA[{person.openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event></xml>"
        ).encode()
        signature = wechat_signature(WECHAT_TOKEN, timestamp, nonce)
        query = f"signature={signature}&timestamp={timestamp}&nonce={nonce}"
        status = self._request(
            "POST", f"/webhooks/wechat/demo-wechat?{query}", xml, {"Content-Type": "text/xml"}
        )
        self._sent("wechat", status, f"wechat:demo-wechat:{person.openid}:{created}")

    def ses(self, person: Person, event_type: str, at: datetime, message_id: str) -> None:
        detail: dict[str, Any] = {"timestamp": at.isoformat()}
        if event_type == "Click":
            detail["link"] = "https://shop.example/spring"
        if event_type == "Complaint":
            detail["complainedRecipients"] = [{"emailAddress": person.email}]
        event = {
            "eventType": event_type,
            "mail": {
                "messageId": f"ses-{person.index}",
                "timestamp": at.isoformat(),
                "destination": [person.email],
                "tags": {"campaign": ["spring-sale"]},
            },
            event_type[0].lower() + event_type[1:]: detail,
        }
        message = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": SES_TOPIC,
            "Message": json.dumps(event),
            "Timestamp": self.now.isoformat(),
            "SignatureVersion": "2",
            "SigningCertURL": SNS_CERT_URL,
        }
        signature = self.certificates.key.sign(string_to_sign(message), padding.PKCS1v15(), hashes.SHA256())
        message["Signature"] = base64.b64encode(signature).decode()
        status = self._request(
            "POST",
            "/webhooks/ses/demo-ses",
            json.dumps(message).encode(),
            {"Content-Type": "text/plain; charset=UTF-8"},
        )
        self._sent("email", status, f"ses:demo-ses:{message_id}")

    # ------------------------------------------------------------------ people
    def person(self, index: int) -> Person:
        email = f"customer{index}@example.com"
        return Person(
            index=index,
            email=email.upper() if index % 7 == 0 else email,  # same person, messier input
            phone=f"138{index:08d}",
            anonymous_id=f"anon-{index:06d}",
            user_id=f"member-{index:06d}" if index % 2 == 0 else None,
            openid=f"oDemo{index:08d}",
            loyalty_card=f"LC{index:06d}",
            shop_customer_id=900000 + index,
        )

    def day_of(self, person: Person) -> None:
        rnd, i = self.random, person.index
        web: list[dict[str, Any]] = [
            {
                "type": "page",
                "anonymousId": person.anonymous_id,
                "name": "Home",
                "messageId": f"demo-web-{i}-page",
                "timestamp": self._moment().isoformat(),
            },
            {
                "type": "track",
                "anonymousId": person.anonymous_id,
                "event": "Product Added",
                "properties": {"sku": "TEA-01", "price": 139.5},
                "timestamp": self._moment().isoformat(),
            },
        ]
        if person.user_id:
            web.append(
                {
                    "type": "identify",
                    "userId": person.user_id,
                    "anonymousId": person.anonymous_id,
                    "traits": {"email": person.email, "phone": person.phone},
                    "timestamp": self._moment().isoformat(),
                }
            )
        self.segment("demo-web", "web", web)
        if rnd.random() < 0.3:
            self.segment(
                "demo-web-backend",
                "web",
                [
                    {
                        "type": "track",
                        "userId": person.user_id,
                        "anonymousId": person.anonymous_id,
                        "event": "Order Completed",
                        "timestamp": self._moment().isoformat(),
                        "properties": {
                            "order_id": f"W{i}",
                            "total": 279.0,
                            "currency": "CNY",
                            "products": [{"sku": "TEA-01", "price": 139.5, "quantity": 2}],
                        },
                    }
                ],
            )
        if rnd.random() < 0.4:
            self.segment(
                "demo-app",
                "app",
                [
                    {
                        "type": "screen",
                        "userId": person.user_id,
                        "anonymousId": f"app-{i}",
                        "name": "Catalog",
                        "messageId": f"demo-app-{i}",
                        "context": {"device": {"id": f"device-{i}"}},
                        "timestamp": self._moment().isoformat(),
                    }
                ],
            )
        if rnd.random() < 0.25:
            self.shopify(
                "orders/create",
                {
                    "id": 7000000 + i,
                    "email": person.email,
                    "phone": "+86" + person.phone,
                    "currency": "CNY",
                    "total_price": "199.00",
                    "created_at": self._moment().isoformat(),
                    "customer": {"id": person.shop_customer_id, "email": person.email},
                    "line_items": [{"sku": "TEA-02", "title": "Pu'er", "quantity": 1, "price": "199.00"}],
                },
                f"demo-order-{i}",
            )
        if rnd.random() < 0.25:
            self.standard(
                "demo-pos",
                "pos",
                {
                    "type": "pos.transaction.completed",
                    "data": {
                        "transaction_id": f"POS-{i}",
                        "store_id": rnd.choice(["SH-01", "BJ-02", "GZ-03"]),
                        "currency": "CNY",
                        "total": "88.00",
                        "occurred_at": self._moment().isoformat(),
                        "customer": {"loyalty_card": person.loyalty_card, "phone": person.phone},
                        "lines": [{"sku": "CUP-01", "quantity": 1, "unit_price": "88.00"}],
                    },
                },
                f"msg_pos_{i}",
            )
        if rnd.random() < 0.1:
            self.standard(
                "demo-callcenter",
                "callcenter",
                {
                    "type": "callcenter.contact.completed",
                    "data": {
                        "contact_id": f"CALL-{i}",
                        "direction": "inbound",
                        "reason": "delivery",
                        "duration_seconds": 180,
                        "customer": {"phone": person.phone},
                    },
                },
                f"msg_call_{i}",
            )
        if rnd.random() < 0.4:
            self.wechat(person, "subscribe", self._moment())
        if rnd.random() < 0.6:
            delivered = self._moment()
            self.ses(person, "Delivery", delivered, f"sns-{i}-d")
            if rnd.random() < 0.4:
                self.ses(
                    person,
                    rnd.choice(["Open", "Click", "Complaint"]),
                    delivered + timedelta(minutes=5),
                    f"sns-{i}-e",
                )

    def _call(self, method: str, path: str, body: dict[str, Any] | None, auth: str) -> tuple[int, Any]:
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        data = json.dumps(body).encode() if body is not None else None
        status, answer = self._exchange(method, path, data, headers)
        return status, json.loads(answer or b"null")

    def membership(self, report: Any) -> None:
        """A member earns online and redeems in store: an app order (reported by the app's
        backend) earns points through the bus and the loyalty consumer; in the app the member
        spends them on a store-only coupon (a member token the brand's backend signed); a till
        redeems it."""
        admin = f"Bearer {self.admin_key}"
        till_key = self.credentials.get("demo-store-till", {}).get("write_key")
        if not till_key:
            return  # sources from an earlier run: their keys are not shown again
        till = "Basic " + base64.b64encode(f"{till_key}:".encode()).decode()
        definition = {
            "definition_id": "demo-store-20",
            "name": "20 off in store",
            "discount_type": "amount",
            "value": "20",
            "channels": ["pos"],
            "points_price": 200,
            "valid_days": 30,
        }
        self._call("POST", "/coupon-definitions", definition, admin)
        email = "member.demo@example.com"
        order = {
            "type": "track",
            "userId": "demo-member",
            "event": "Order Completed",
            "messageId": "demo-member-order-1",
            "timestamp": self.now.isoformat(),
            "properties": {"order_id": "DEMO-APP-1", "total": 368},
            "context": {"traits": {"email": email}},
        }
        self.segment("demo-app-backend", "app", [order])
        earned: dict[str, Any] = {}

        def points_earned() -> bool:
            status, found = self._call("GET", "/profiles?user_id=demo-member", None, admin)
            if status != 200:
                return False
            status, member = self._call("GET", f"/members/{found['profile_id']}", None, till)
            if status == 200 and member["balance"] >= 368:
                earned.update(profile_id=found["profile_id"])
                return True
            return False

        self._await(points_earned, "the app order's points")
        profile_id = earned["profile_id"]
        in_app, account = till, f"/members/{profile_id}"
        if self.member_token_secret:
            token = sign_member_token(
                "demo-member",
                secret=self.member_token_secret,
                audience="omnireach",
                now=datetime.now(UTC),
                scopes=["member:read", "member:exchange"],
                lifetime=timedelta(minutes=15),
            )
            in_app, account = f"Bearer {token}", "/members/me"
        body = {"definition_id": "demo-store-20", "request_id": "demo-exchange-1"}
        status, exchanged = self._call("POST", f"{account}/exchanges", body, in_app)
        if status >= 300:
            raise RuntimeError(f"demo: the exchange was answered {status}: {exchanged}")
        code = exchanged["coupon"]["code"]
        redemption = {"order_total": "99", "redemption_id": "demo-till-1", "order_id": "DEMO-STORE-1"}
        status, redeemed = self._call("POST", f"/coupons/{code}/redemptions", redemption, till)
        if status >= 300:
            raise RuntimeError(f"demo: the till's redemption was answered {status}: {redeemed}")
        status, member = self._call("GET", f"/members/{profile_id}", None, till)
        report(
            {
                "event": "demo_membership",
                "profile_id": profile_id,
                "earned_online": 368,
                "exchanged_points": 200,
                "exchanged_with": "member token" if in_app != till else "till key",
                "coupon": code,
                "redeemed_in_store": {"channel": redeemed["channel"], "discount": redeemed["discount"]},
                "balance": member["balance"],
            }
        )

    def inventory(self, report: Any) -> None:
        """One lamp model in the Shanghai store: an online order takes two (the store's POS view
        drops), a till sale takes one (the web shop's view drops); each change is pushed, signed,
        to simulated channel endpoints, which verify the signature and keep the latest value."""
        from infra.channel_simulator import ChannelSimulator

        admin = f"Bearer {self.admin_key}"
        till_key = self.credentials.get("demo-store-till", {}).get("write_key")
        if not till_key:
            return
        simulator = ChannelSimulator().start()  # stays up with the stack: later pushes keep arriving
        try:
            self._call("PUT", "/inventory/locations/demo-dc", {"name": "East DC", "kind": "warehouse"}, admin)
            self._call(
                "PUT",
                "/inventory/locations/demo-store-sh",
                {"name": "Shanghai store", "kind": "store"},
                admin,
            )
            channels = {
                "demo-web": {"name": "Web shop", "kind": "web", "locations": ["demo-dc", "demo-store-sh"]},
                "demo-pos-sh": {
                    "name": "Shanghai POS",
                    "kind": "pos",
                    "locations": ["demo-store-sh"],
                    "source_id": "demo-store-till",
                },
            }
            for channel_id, body in channels.items():
                status, made = self._call(
                    "PUT", f"/inventory/channels/{channel_id}", body | simulator.urls(channel_id), admin
                )
                if status != 200:
                    raise RuntimeError(f"demo: channel {channel_id} was answered {status}: {made}")
                simulator.add(channel_id, made["signing_secret"])
            self._call("PUT", "/prices/DEMO-LAMP", {"base": "299.00", "category": "lighting"}, admin)
            week = self.now.replace(microsecond=0) + timedelta(days=7)
            self._call(  # next week's sale: on the timeline, not yet in any price
                "PUT",
                "/promotions/demo-lighting-week",
                {
                    "name": "Lighting week",
                    "kind": "percent",
                    "value": "15",
                    "categories": ["lighting"],
                    "starts_at": week.isoformat(),
                    "ends_at": (week + timedelta(days=5)).isoformat(),
                },
                admin,
            )
            self._call(
                "PUT",
                "/inventory/stock/DEMO-LAMP/demo-store-sh",
                {"on_hand": 5, "request_id": "demo-count-1"},
                admin,
            )
            pos, web = simulator.channels["demo-pos-sh"], simulator.channels["demo-web"]
            self._await(
                lambda: pos.shown.get("DEMO-LAMP", {}).get("available") == 5, "the first count's push"
            )

            cart = {
                "request_id": "demo-cart-1",
                "channel_id": "demo-web",
                "lines": [{"sku": "DEMO-LAMP", "quantity": 2}],
            }
            status, held = self._call("POST", "/inventory/reservations", cart, admin)
            if status != 201:
                raise RuntimeError(f"demo: the web reservation was answered {status}: {held}")
            self._call(
                "POST",
                f"/inventory/reservations/{held['reservation_id']}/commit",
                {"order_id": "DEMO-WEB-1"},
                admin,
            )
            self._await(
                lambda: pos.shown.get("DEMO-LAMP", {}).get("available") == 3, "the online sale at the store"
            )

            sale = {
                "type": "track",
                "userId": "demo-walk-in",
                "event": "Order Completed",
                "messageId": "demo-store-sale-1",
                "timestamp": self.now.isoformat(),
                "properties": {
                    "order_id": "DEMO-STORE-LAMP-1",
                    "location_id": "demo-store-sh",
                    "total": 299,
                    "products": [{"sku": "DEMO-LAMP", "quantity": 1, "price": 299}],
                },
            }
            till = "Basic " + base64.b64encode(f"{till_key}:".encode()).decode()
            headers = {"Authorization": till, "Content-Type": "application/json"}
            status = self._request("POST", "/v1/batch", json.dumps({"batch": [sale]}).encode(), headers)
            if status >= 300:
                raise RuntimeError(f"demo: the till's sale was answered {status}")
            self._await(
                lambda: web.shown.get("DEMO-LAMP", {}).get("available") == 2, "the store sale on the web"
            )
            report(
                {
                    "event": "demo_inventory",
                    "sku": "DEMO-LAMP",
                    "store_view_after_online_sale": 3,
                    "web_view_after_store_sale": web.shown["DEMO-LAMP"]["available"],
                    "pushes_received": {"demo-web": len(web.received), "demo-pos-sh": len(pos.received)},
                    "pushes_refused": web.refused + pos.refused,
                    "stale_pushes": web.stale + pos.stale,
                    "price_on_channels": web.shown["DEMO-LAMP"]["price"],
                    "channel_endpoints": simulator.base_url,
                }
            )
        except BaseException:
            simulator.stop()
            raise

    def _await(self, condition: Callable[[], bool], what: str) -> None:
        """Poll until `condition` holds. Give up only when nothing has moved for `patience`
        seconds: while the stack's queued messages change, the work is still on its way (the
        local emulator serves one request at a time, so a large day takes minutes to drain)."""
        give_up = time.monotonic() + self.patience
        hard_stop = time.monotonic() + 20 * self.patience
        last_backlog, next_look = None, 0.0
        while not condition():
            now = time.monotonic()
            if self.backlog is not None and now >= next_look:
                depth, next_look = self.backlog(), now + min(5.0, self.patience / 4)
                if depth != last_backlog:
                    give_up = now + self.patience
                last_backlog = depth
            if now > min(give_up, hard_stop):
                raise RuntimeError(
                    f"demo: {what} did not arrive; nothing moved for {self.patience:g} s "
                    f"(messages still queued: {last_backlog})"
                )
            time.sleep(min(0.5, self.patience / 10))

    def segment_for_campaign(self) -> None:
        """Made before the day's traffic, so membership is kept live as people arrive."""
        admin = f"Bearer {self.admin_key}"
        rule = {"field": "identifiers.email", "op": "exists"}
        self._call(
            "POST",
            "/segments",
            {"segment_id": "demo-reachable", "name": "Reachable by email", "rule": rule},
            admin,
        )
        thanks = {
            "journey_id": "demo-thanks",
            "definition": {
                "name": "Thank you after an order",
                "trigger": "order_placed",
                "steps": [
                    {
                        "type": "send",
                        "send": {
                            "channels": ["inbox"],
                            "variants": [
                                {
                                    "variant_id": "v1",
                                    "content": {
                                        "inbox": {
                                            "title": "Thank you",
                                            "body": "Thank you for your order, {{ first_name | friend }}!",
                                        }
                                    },
                                }
                            ],
                        },
                    }
                ],
            },
        }
        self._call("POST", "/journeys", thanks, admin)
        self._call("POST", "/journeys", {"journey_id": "demo-carts", "template": "cart_abandonment"}, admin)

    def campaign(self, report: Any) -> None:
        """A spring campaign to everyone reachable by email: email where they agreed to it, else
        the in-app inbox; 10 % held out. Every targeted customer ends with one outcome."""
        admin = f"Bearer {self.admin_key}"
        body = {
            "campaign_id": "demo-spring",
            "name": "Spring collection",
            "segment_id": "demo-reachable",
            "channels": ["email", "inbox"],
            "holdout_percent": "10",
            "variants": [
                {
                    "variant_id": "spring",
                    "content": {
                        "email": {
                            "subject": "Spring is here",
                            "body": "Hi {{ first_name | there }}, spring is in store.",
                        },
                        "inbox": {
                            "title": "Spring is here",
                            "body": "Hi {{ first_name | there }}, spring is in store.",
                        },
                    },
                }
            ],
        }
        status, made = self._call("POST", "/campaigns", body, admin)
        if status not in (201, 409):
            raise RuntimeError(f"demo: the campaign was answered {status}: {made}")
        self._call("POST", "/campaigns/demo-spring/launch", None, admin)
        found: dict[str, Any] = {}

        def settled() -> bool:
            """Every targeted customer has an outcome: a final one, or deferred to a known time
            (quiet hours at the customer's local time: the send goes when they end)."""
            nonlocal found
            status, found = self._call("GET", "/campaigns/demo-spring/report", None, admin)
            if status != 200 or not found.get("audience"):
                return False
            paging = any(run.get("status") == "paging" for run in found.get("runs", []))
            outcomes = found.get("outcomes", {})
            in_flight = {"processing", "parked"} & set(outcomes)
            return not paging and not in_flight and sum(outcomes.values()) == found.get("targeted")

        self._await(settled, "the spring campaign's outcomes")
        _, journey = self._call("GET", "/journeys/demo-thanks/report", None, admin)
        _, policy = self._call("GET", "/frequency-policy", None, admin)
        quiet = (policy or {}).get("quiet_hours") or {}
        deferred = {
            reason.split(":", 1)[1]: count
            for reason, count in found.get("reasons", {}).items()
            if reason.startswith("deferred:")
        }
        report(
            {
                "event": "demo_campaign",
                "campaign": {
                    key: found[key]
                    for key in (
                        "targeted",
                        "audience",
                        "outcomes",
                        "reasons",
                        "holdout",
                        "channels",
                        "complete",
                    )
                },
                # At night the customers' quiet hours hold the sends back until they end.
                "deferred": {"count": sum(deferred.values()), "reasons": deferred, "quiet_hours": quiet},
                "journey_thanks": {"audience": journey.get("audience"), "outcomes": journey.get("outcomes")},
            }
        )

    def appointments(self, report: Any) -> None:
        """Online appliance orders that need an installation: the shop's backend reports each
        order, then books the installation at the Shanghai store's first free slot two days on;
        the reminders journey plans each booking's 24-hour and 2-hour reminders inside the
        store's opening hours (GET /appointments/{id} shows them)."""
        admin = f"Bearer {self.admin_key}"
        hours = {
            day: [{"open": "09:00", "close": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
        }
        service = {"name": "Washer installation", "duration_minutes": 120, "skus": ["WASHER-9"]}
        self._call("PUT", "/appointment-services/washer-install", service, admin)
        store = {
            "name": "Shanghai store",
            "timezone": "Asia/Shanghai",
            "hours": hours,
            "capacity": {"washer-install": 2},
        }
        self._call("PUT", "/appointment-locations/SH-01", store, admin)
        self._call(
            "POST", "/journeys", {"journey_id": "demo-reminders", "template": "appointment_reminders"}, admin
        )
        buyers = [p for p in (self.person(i) for i in range(min(self.customers, 40))) if p.user_id][:3]
        for person in buyers:
            order = {
                "type": "track",
                "userId": person.user_id,
                "event": "Order Completed",
                "messageId": f"demo-washer-{person.index}",
                "timestamp": self._moment().isoformat(),
                "properties": {
                    "order_id": f"WASH-{person.index}",
                    "total": 3999.0,
                    "currency": "CNY",
                    "products": [{"sku": "WASHER-9", "price": 3999.0, "quantity": 1}],
                },
            }
            self.segment("demo-web-backend", "web", [order])
        profiles: dict[str, str] = {}

        def known() -> bool:
            for person in buyers:
                status, found = self._call("GET", f"/profiles?user_id={person.user_id}", None, admin)
                if status == 200 and found.get("orders"):
                    profiles[str(person.user_id)] = found["profile_id"]
            return len(profiles) == len(buyers)

        self._await(known, "the appliance buyers' profiles")
        status, clock = self._call("GET", "/_local/clock", None, admin)  # the stack's time (it may be moved)
        now = datetime.fromisoformat(clock["now"]) if status == 200 else datetime.now(UTC)
        first_day = (now.astimezone(ZoneInfo("Asia/Shanghai")) + timedelta(days=2)).date()
        booked: list[dict[str, Any]] = []
        last_day = first_day + timedelta(days=6)
        for person in buyers:
            query = f"service_id=washer-install&location_id=SH-01&from={first_day}&to={last_day}"
            _, slots = self._call("GET", f"/appointments/slots?{query}", None, admin)
            for slot in (slots or {}).get("slots", []):
                body = {
                    "profile_id": profiles[str(person.user_id)],
                    "service_id": "washer-install",
                    "location_id": "SH-01",
                    "starts_at": slot["starts_at"],
                    "channel": "ecommerce",
                    "order_id": f"WASH-{person.index}",
                    "sku": "WASHER-9",
                }
                status, booking = self._call("POST", "/appointments", body, admin)
                if status in (200, 201):
                    booked.append(booking)
                    break
        planned: dict[str, Any] = {}

        def reminded() -> bool:
            for booking in booked:
                _, found = self._call("GET", f"/appointments/{booking['booking_id']}", None, admin)
                planned[booking["booking_id"]] = (found or {}).get("journeys") or []
            return all(planned.values())

        self._await(reminded, "the installations' reminders")
        zone = ZoneInfo("Asia/Shanghai")
        report(
            {
                "event": "demo_appointments",
                "bookings": [
                    {
                        "booking_id": booking["booking_id"],
                        "order_id": booking.get("order_id"),
                        "at": booking["local_time"],
                        "next_reminder_local": [
                            datetime.fromisoformat(j["next_at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
                            for j in planned[booking["booking_id"]]
                        ],
                    }
                    for booking in booked
                ],
            }
        )

    def run(self, report: Any) -> None:
        started = time.monotonic()
        self.create_sources()
        self.segment_for_campaign()
        step = max(1, self.customers // 10)
        widest: tuple[int, Person | None, list[str]] = (0, None, [])
        for index in range(self.customers):
            person, before = self.person(index), Counter(self.sent)
            self.day_of(person)
            channels = sorted(channel for channel in self.sent if self.sent[channel] > before[channel])
            if len(channels) > widest[0]:
                widest = (len(channels), person, channels)
            if (index + 1) % step == 0 or index + 1 == self.customers:
                report(
                    {
                        "event": "demo_progress",
                        "customers": index + 1,
                        "of": self.customers,
                        "touchpoints": sum(self.sent.values()),
                    }
                )
        scenes = {"traffic": round(time.monotonic() - started, 1)}
        for name, scene in (
            ("membership", self.membership),
            ("inventory", self.inventory),
            ("campaign", self.campaign),
            ("appointments", self.appointments),
        ):
            began = time.monotonic()
            scene(report)
            scenes[name] = round(time.monotonic() - began, 1)
            report({"event": "demo_scene", "scene": name, "seconds": scenes[name]})
        report(
            {
                "event": "demo_done",
                "seconds": round(time.monotonic() - started, 1),
                "scenes": scenes,
                "sent": dict(self.sent),
                "samples": self.samples,
                # The customer seen on the most channels: one profile (GET /profiles?email=...).
                "profile_sample": {
                    "email": widest[1].email.lower() if widest[1] else "",
                    "phone": "+86" + widest[1].phone if widest[1] else "",
                    "channels": widest[2],
                },
            }
        )
