"""Extension points of contracts, filled by higher apps from their `AppConfig.ready()` (contracts imports none).

    from contracts.extensions import RenewalEstimate, renewal_probability_provider

    renewal_probability_provider.register(my_provider)   # (contracts) -> {contract_pk: RenewalEstimate}

A provider may leave contracts out (or return nothing, or raise): those get the rule-based estimate of
`contracts.services.renewal_probability_rule`, and `source` says which was used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

SOURCE_RULES = "rules"
SOURCE_MODEL = "model"
SOURCE_LABELS = {SOURCE_RULES: _("Rule-based estimate"), SOURCE_MODEL: _("Churn model")}


@dataclass(frozen=True)
class RenewalEstimate:
    probability: float  # 0-1
    reasons: list[str] = field(default_factory=list)
    source: str = SOURCE_RULES  # "rules" or "model"
    model_version: int | None = None

    @property
    def source_label(self) -> Any:
        return SOURCE_LABELS.get(self.source, self.source)


class _ProviderSlot:
    """One provider at a time (the last registered wins); a failing provider never breaks a page."""

    def __init__(self) -> None:
        self._provider: Callable[[list], dict[int, RenewalEstimate]] | None = None

    def register(self, provider: Callable[[list], dict[int, RenewalEstimate]]) -> None:
        self._provider = provider

    def unregister(self) -> None:
        self._provider = None

    @property
    def provider(self):
        return self._provider

    def __call__(self, contracts: Iterable) -> dict[int, RenewalEstimate]:
        if self._provider is None:
            return {}
        try:
            return self._provider(list(contracts)) or {}
        except Exception:  # the rule takes over
            logger.exception("renewal probability provider failed; using the rule-based estimate")
            return {}


renewal_probability_provider = _ProviderSlot()
