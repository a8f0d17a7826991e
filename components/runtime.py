"""The app's runtime environment, shared by both targets (pure functions, no resources).

Both the Fargate task definition and the local container set exactly these variables, so a
release behaves the same on either target.
"""

from __future__ import annotations

from collections.abc import Mapping

from settings import ServiceSettings

DRAIN_MARGIN_SECONDS = 5
"""The BEAM finishes draining this long before the container's stop timeout kills it (the app
reads ``SHUTDOWN_DRAIN_MS``)."""


def runtime_environment(
    settings: ServiceSettings, host: str, extra: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """What a Phoenix release needs at boot plus the stack's variables: sorted, no nulls.

    Sorted so the task definition (or container) does not churn between identical deployments.
    """
    drain_ms = max(settings.stop_timeout_seconds - DRAIN_MARGIN_SECONDS, 1) * 1000
    variables = {
        **settings.environment,
        **(extra or {}),
        "PORT": str(settings.container_port),
        "PHX_SERVER": "true",
        "PHX_HOST": host,
        "SHUTDOWN_DRAIN_MS": str(drain_ms),
    }
    return [
        {"name": name, "value": value}
        for name, value in sorted(variables.items())
        if value is not None
    ]
