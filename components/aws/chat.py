"""ChatForwarder (aws): alarms, Prometheus alerts and deployments posted to the team's chat.

Creates: the webhook URL in Secrets Manager (it carries its own token: never plain config); the
forwarder function (``forwarder/handler.py``, Python, standard library only) subscribed to the
alarm topic, with its own log group and a role that may read exactly that secret and write
exactly that log group; and two alarms on the forwarder itself — failed deliveries (its
``DeliveryFailures`` metric) and function errors — which go to the topic's other subscribers
(e-mail, pager): a broken chat cannot report on itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document

HANDLER_FILE = Path(__file__).resolve().parents[2] / "forwarder" / "handler.py"
RUNTIME = "python3.12"
DELIVERY_TIMEOUT_SECONDS = 5
FUNCTION_TIMEOUT_SECONDS = DELIVERY_TIMEOUT_SECONDS * 3 + 5
"""One SNS notification holds one message; room for a slow secret read and one delivery."""
METRIC_NAMESPACE = "ElixirDevops/Forwarder"


def lambda_trust_policy() -> str:
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def forwarder_policy(secret_arn: str, log_group_arn: str) -> str:
    """Read the one webhook secret, write the one log group; nothing else."""
    return policy_document(
        [
            {
                "Sid": "ReadWebhook",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn,
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ]
    )


@dataclass(frozen=True)
class ChatForwarderArgs:
    webhook_url: pulumi.Input[str]
    """The chat tool's incoming webhook (secret)."""
    flavour: str
    """``slack``, ``teams``, ``discord`` or ``googlechat``."""
    topic_arn: pulumi.Input[str]
    """The alarm topic it listens to (and its own alarms go to)."""
    stack: str
    """Shown in every message (``prod deployed …``)."""
    app: str
    """Shown in every message."""
    image_ref: pulumi.Input[str]
    """The deployed image, for "deployed <digest>" messages."""
    log_retention_days: int
    """Retention of the function's log group."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class ChatForwarder(pulumi.ComponentResource):
    function_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: ChatForwarderArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("elixir-devops:aws:ChatForwarder", name, None, opts)
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        secret = aws.secretsmanager.Secret(
            f"{name}-chat-webhook",
            name_prefix=f"{name}/chat-webhook-",
            description="Incoming webhook of the team chat (alarms, alerts, deployments)",
            recovery_window_in_days=7,
            tags=tags,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-chat-webhook",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(args.webhook_url),
            opts=pulumi.ResourceOptions(parent=secret),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-chat",
            name_prefix=f"/aws/lambda/{name}-chat-",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-chat",
            description="Chat forwarder: read its webhook secret, write its logs",
            assume_role_policy=lambda_trust_policy(),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-chat",
            role=role.id,
            policy=pulumi.Output.all(secret.arn, log_group.arn).apply(
                lambda v: forwarder_policy(v[0], v[1])
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        function = aws.lambda_.Function(
            f"{name}-chat",
            description="Posts the alarm topic's notifications to the team chat",
            runtime=RUNTIME,
            handler="handler.handler",
            code=pulumi.AssetArchive({"handler.py": pulumi.FileAsset(str(HANDLER_FILE))}),
            role=role.arn,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            memory_size=128,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "CHAT_FLAVOUR": args.flavour,
                    "WEBHOOK_SECRET_ARN": secret.arn,
                    "STACK": args.stack,
                    "APP": args.app,
                    "IMAGE": args.image_ref,
                    "TIMEOUT_SECONDS": str(DELIVERY_TIMEOUT_SECONDS),
                }
            ),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=log_group.name
            ),
            tags=tags,
            # Its first invocation must find its permissions in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.lambda_.Permission(
            f"{name}-chat-from-topic",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="sns.amazonaws.com",
            source_arn=args.topic_arn,
            opts=pulumi.ResourceOptions(parent=function),
        )
        aws.sns.TopicSubscription(
            f"{name}-chat",
            topic=args.topic_arn,
            protocol="lambda",
            endpoint=function.arn,
            opts=pulumi.ResourceOptions(parent=function),
        )
        for role_name, namespace, metric, dimensions in (
            ("chat-delivery", METRIC_NAMESPACE, "DeliveryFailures", {"Stack": args.stack}),
            ("chat-errors", "AWS/Lambda", "Errors", {"FunctionName": function.name}),
        ):
            aws.cloudwatch.MetricAlarm(
                f"{name}-{role_name}",
                alarm_description=f"The chat forwarder could not deliver ({metric})",
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",
                actions_enabled=True,
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                tags=tags,
                opts=child,
            )
        self.function_name = function.name
        self.register_outputs({"function_name": self.function_name})
