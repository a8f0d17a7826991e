"""The registry unit's settings (ECR repository policy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from config_reader import ConfigReader
from settings.common import (
    account_id_problem,
)


@dataclass(frozen=True)
class RegistrySettings:
    """ECR repository policy."""

    tag_mutability: Literal["IMMUTABLE", "MUTABLE"]
    untagged_expiry_days: int
    keep_tagged_count: int
    force_delete: bool
    pull_account_ids: tuple[str, ...]
    """Other AWS accounts (12-digit ids) whose roles may pull the images: the staging/prod
    accounts when they promote the image dev built. Empty - no repository policy."""


def read_registry(reader: ConfigReader) -> RegistrySettings:
    mutability = reader.string("registryTagMutability", choices=("IMMUTABLE", "MUTABLE"))
    return RegistrySettings(
        tag_mutability="MUTABLE" if mutability == "MUTABLE" else "IMMUTABLE",
        untagged_expiry_days=reader.integer("registryUntaggedExpiryDays", minimum=1, maximum=3650),
        keep_tagged_count=reader.integer("registryKeepTaggedCount", minimum=1, maximum=10000),
        force_delete=reader.boolean("registryForceDelete"),
        pull_account_ids=reader.string_list("registryPullAccountIds", item=account_id_problem),
    )
