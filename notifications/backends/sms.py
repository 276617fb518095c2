"""SMS through the portal's HTTP gateway protocol, behind one client.

``SMS_GATEWAYS`` lists the gateways (a primary and a backup), each with a
weight. A request goes to a healthy gateway drawn by weight; when it
fails to connect, answers 5xx, or is slow, that gateway loses priority
for ``SMS_GATEWAY_PENALTY_SECONDS`` (kept in Redis, so every worker knows)
and the next one is tried at once. A request whose answer never came is
not sent again: its messages are reported ``unknown`` and settled later by
a receipt or by asking the gateway (:meth:`GatewayClient.query`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import httpx
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

ACCEPTED, REJECTED, UNKNOWN, RETRY = "accepted", "rejected", "unknown", "retry"


@dataclass(frozen=True)
class Gateway:
    name: str
    url: str
    token: str
    weight: int = 1
    # Messages one request may carry: the protocol sends many at once, a
    # gateway that takes them one by one says "batch": 1.
    batch: int = 0


@dataclass
class Outcome:
    status: str  # accepted | rejected | unknown | retry
    gateway: str = ""
    message_id: str = ""
    error: str = ""


def configured_gateways() -> list[Gateway]:
    return [
        Gateway(
            name=g["name"],
            url=g["url"].rstrip("/"),
            token=g["token"],
            weight=int(g.get("weight", 1)),
            batch=int(g.get("batch", 0)),
        )
        for g in settings.SMS_GATEWAYS
    ]


def gateway_for_token(token: str) -> Gateway | None:
    for gateway in configured_gateways():
        if token and gateway.token == token:
            return gateway
    return None


def _redis() -> redis.Redis:
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):
        url = "unix://" + url[len("redis+socket://") :]
    return redis.Redis.from_url(url)


class GatewayClient:
    def __init__(self, gateways: list[Gateway] | None = None):
        self.gateways = gateways or configured_gateways()
        self.timeout = settings.SMS_GATEWAY_TIMEOUT
        self.slow = settings.SMS_GATEWAY_SLOW_SECONDS
        self.penalty = settings.SMS_GATEWAY_PENALTY_SECONDS
        self.redis = _redis()
        self.http = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self.http.close()

    # Priority ------------------------------------------------------------

    def _penalised(self) -> set[str]:
        keys = [f"portal:sms:penalty:{g.name}" for g in self.gateways]
        values = self.redis.mget(keys)
        return {g.name for g, v in zip(self.gateways, values, strict=True) if v}

    def penalise(self, gateway: Gateway, reason: str) -> None:
        logger.warning(
            "sms gateway penalised gateway=%s reason=%s", gateway.name, reason
        )
        self.redis.set(f"portal:sms:penalty:{gateway.name}", reason, ex=self.penalty)

    def ranked(self) -> list[Gateway]:
        """The order to try gateways in: healthy ones sharing the traffic
        by weight (the first drawn by weight, then the rest likewise), then
        healthy standbys (weight 0), then penalised ones, still tried when
        nothing else answers."""
        penalised = self._penalised()
        healthy = [g for g in self.gateways if g.name not in penalised]
        sharing = [g for g in healthy if g.weight > 0]
        ordered = []
        while sharing:
            pick = random.choices(sharing, weights=[g.weight for g in sharing])[0]
            ordered.append(pick)
            sharing.remove(pick)
        ordered += [g for g in healthy if g.weight <= 0]
        return ordered + sorted(
            (g for g in self.gateways if g.name in penalised), key=lambda g: -g.weight
        )

    # Sending -------------------------------------------------------------

    def send(self, items: list[dict]) -> dict[str, Outcome]:
        """Send ``[{"ref", "to", "text"}]``; return an outcome per ref.

        Each gateway gets requests of at most its ``batch`` messages; what
        one gateway did not take goes to the next."""
        outcomes: dict[str, Outcome] = {}
        errors = []
        remaining = items
        for gateway in self.ranked():
            size = gateway.batch if gateway.batch > 0 else len(remaining)
            while remaining:
                chunk, rest = remaining[:size], remaining[size:]
                result, error = self._post(gateway, chunk)
                if result is None:
                    errors.append(error)
                    break  # this gateway failed: the next one takes the rest
                outcomes.update(result)
                remaining = rest
                if any(o.status == UNKNOWN for o in result.values()):
                    break  # it timed out: the rest go elsewhere
            if not remaining:
                return outcomes

        error = "; ".join(errors) or "no gateway configured"
        outcomes.update({i["ref"]: Outcome(RETRY, error=error) for i in remaining})
        return outcomes

    def _post(
        self, gateway: Gateway, items: list[dict]
    ) -> tuple[dict[str, Outcome] | None, str]:
        """One request: an outcome per ref, or None and why when nothing
        reached the gateway or it refused the whole request."""
        started = time.monotonic()
        try:
            response = self.http.post(
                gateway.url + "/api/v1/messages",
                json={"messages": items},
                headers={"Authorization": f"Bearer {gateway.token}"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # Nothing reached the gateway: the next one may have it.
            self.penalise(gateway, "connect")
            return None, f"{gateway.name}: {type(error).__name__}"
        except httpx.TransportError as error:
            # Sent, but no answer: the gateway may have accepted it.
            self.penalise(gateway, "timeout")
            logger.warning(
                "sms answer lost gateway=%s count=%d error=%s",
                gateway.name,
                len(items),
                type(error).__name__,
            )
            return {
                i["ref"]: Outcome(UNKNOWN, gateway.name, error=type(error).__name__)
                for i in items
            }, ""

        if time.monotonic() - started > self.slow:
            self.penalise(gateway, "slow")
        if response.status_code != 200:
            self.penalise(gateway, f"http {response.status_code}")
            return None, f"{gateway.name}: HTTP {response.status_code}"

        results = {r.get("ref"): r for r in response.json().get("messages", [])}
        outcomes = {}
        for item in items:
            result = results.get(item["ref"]) or {}
            if result.get("status") == "accepted":
                outcomes[item["ref"]] = Outcome(
                    ACCEPTED, gateway.name, message_id=result.get("id", "")
                )
            else:
                outcomes[item["ref"]] = Outcome(
                    REJECTED, gateway.name, error=result.get("error", "rejected")
                )
        return outcomes, ""

    def query(self, refs: list[str], gateway_name: str = "") -> dict[str, dict]:
        """What the gateways know of these refs: {ref: {"id", "status",
        "gateway"}}. A ref absent from the answer never reached them."""
        found: dict[str, dict] = {}
        for gateway in self.gateways:
            if gateway_name and gateway.name != gateway_name:
                continue
            for start in range(0, len(refs), 200):
                chunk = refs[start : start + 200]
                response = self.http.get(
                    gateway.url + "/api/v1/messages",
                    params=[("ref", r) for r in chunk],
                    headers={"Authorization": f"Bearer {gateway.token}"},
                )
                response.raise_for_status()
                for message in response.json().get("messages", []):
                    found[message["ref"]] = {**message, "gateway": gateway.name}
        return found
