"""Entry point of the policy pack: the Pulumi CLI runs this, and it serves until stopped.

``PolicyPack(...)`` starts the analyzer's gRPC server and blocks, so nothing imports this
module; the policies themselves live in ``guardrails.py`` (tests import them from there).
"""

from guardrails import ALL_POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="elixir-devops-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(ALL_POLICIES),
)
