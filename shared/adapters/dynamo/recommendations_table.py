"""The recommendations table.

| entity           | pk                  | sk         | notes                                        |
|------------------|---------------------|------------|----------------------------------------------|
| purchase history | PERSON#<profile_id> | PURCHASES  | body = the last orders (SKUs, when); version |
| neighbours       | ITEM#<sku>          | NEIGHBOURS | n = [[sku, cosine], …] best first; TTL       |
| model summary    | MODEL               | SUMMARY    | body = ModelSummary (popular list, counts)   |

A history changes by one PutItem conditional on its version. The nightly rebuild scans the
histories (a scan reads the neighbours and the summary too: they are small beside them) and
rewrites every product's neighbours with a TTL of `MODEL_KEPT`, so a product that lost its
neighbours stops being served once the night after next has not renewed it. Neighbours and the
summary are read eventually consistent and cached per process: they change once a night.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from shared.adapters.dynamo.low_level import LowLevelTable, dump, epoch, load
from shared.domain.kernel.errors import InvalidInputError
from shared.domain.recommendations.service import ModelSummary, PurchaseHistory

MODEL_KEPT = timedelta(days=3)


class DynamoRecommendations(LowLevelTable):
    """Implements RecommendationStore."""

    name = "recommendations"

    # ------------------------------------------------------------ purchase histories
    def histories(self, profile_ids: Sequence[str]) -> dict[str, PurchaseHistory]:
        keys = [
            {"pk": f"PERSON#{profile_id}", "sk": "PURCHASES"} for profile_id in dict.fromkeys(profile_ids)
        ]
        return {
            history.profile_id: history
            for item in self._batch_get(keys, consistent=True)
            for history in [_history(item)]
        }

    def save_history(self, history: PurchaseHistory) -> bool:
        item = {
            "pk": f"PERSON#{history.profile_id}",
            "sk": "PURCHASES",
            "body": history.model_dump_json(by_alias=True, exclude={"version", "profile_id"}),
            "version": history.version + 1,
        }
        if history.version == 0:
            return self._put(item, condition="attribute_not_exists(pk)")
        return self._put(item, condition="version = :v", values={":v": history.version})

    def history_pages(self, *, after: str | None, limit: int) -> tuple[list[PurchaseHistory], str | None]:
        kwargs: dict[str, Any] = {
            "Limit": limit,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": dump({":sk": "PURCHASES"}),
        }
        if after:
            try:
                kwargs["ExclusiveStartKey"] = dump(json.loads(after))
            except ValueError as error:
                raise InvalidInputError("after: not a cursor this table gave") from error
        response = self._call("scan", **kwargs)
        last = response.get("LastEvaluatedKey")
        return (
            [_history(load(item)) for item in response.get("Items", [])],
            json.dumps(load(last)) if last else None,
        )

    def forget_person(self, profile_id: str) -> None:
        self._delete(f"PERSON#{profile_id}", "PURCHASES")

    # ------------------------------------------------------------ the model
    def neighbours(self, skus: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
        found: dict[str, list[tuple[str, float]]] = {}
        missing = []
        now = self._monotonic()
        for sku in dict.fromkeys(skus):
            hit = self._cache.get(("neighbours", sku))
            if hit is not None and now - hit[0] < self._cache_seconds:
                found[sku] = hit[1]
            else:
                missing.append(sku)
        loaded = {
            str(item["pk"]).removeprefix("ITEM#"): [(str(s), float(c)) for s, c in json.loads(item["n"])]
            for item in self._batch_get([{"pk": f"ITEM#{sku}", "sk": "NEIGHBOURS"} for sku in missing])
        }
        for sku in missing:
            found[sku] = loaded.get(sku, [])
            self._cache[("neighbours", sku)] = (now, found[sku])
        return {sku: pairs for sku, pairs in found.items() if pairs}

    def summary(self) -> ModelSummary | None:
        def load_summary() -> ModelSummary | None:
            item = self._get("MODEL", "SUMMARY", consistent=False)
            return ModelSummary.model_validate_json(item["body"]) if item else None

        return self._cached(("summary", "MODEL"), load_summary)

    def save_model(self, neighbours: dict[str, list[tuple[str, float]]], summary: ModelSummary) -> None:
        expires = epoch(summary.built_at + MODEL_KEPT)
        items = [
            {
                "pk": f"ITEM#{sku}",
                "sk": "NEIGHBOURS",
                "n": json.dumps([[other, round(score, 6)] for other, score in pairs], separators=(",", ":")),
                "expires_at": expires,
            }
            for sku, pairs in sorted(neighbours.items())
        ]
        self._batch_put(items)
        self._put({"pk": "MODEL", "sk": "SUMMARY", "body": summary.model_dump_json()})
        self._cache.clear()


def _history(item: dict[str, Any]) -> PurchaseHistory:
    body = json.loads(item["body"])
    return PurchaseHistory.model_validate(
        {**body, "profile_id": str(item["pk"]).removeprefix("PERSON#"), "version": int(item["version"])}
    )
