"""AlarmTopic (aws): the stack's one SNS topic for alarm and OK notifications, and its hooks.

Creates: a customer-managed KMS key (rotation on) that CloudWatch may use, the topic encrypted
with it, a topic policy letting CloudWatch alarms of this account publish, and one subscription
per configured endpoint (e-mail, https webhook, SQS queue).

Why not the AWS-managed key ``alias/aws/sns``: its key policy cannot be edited and does not let
CloudWatch call ``kms:GenerateDataKey``/``kms:Decrypt``, so alarms silently fail to publish to
a topic encrypted with it (AWS re:Post, "cloudwatch-configure-alarm-sns"). A customer-managed
key whose policy admits ``cloudwatch.amazonaws.com`` is the documented way to have both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document
from components.urns import component_options

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


@dataclass(frozen=True)
class Subscription:
    protocol: str
    endpoint: str


def subscriptions(
    emails: Sequence[str], webhooks: Sequence[str], sqs_queue_arn: str | None
) -> list[Subscription]:
    """The topic's subscriptions, in a stable order (e-mail, https, sqs)."""
    return [
        *(Subscription("email", address) for address in emails),
        *(Subscription("https", url) for url in webhooks),
        *([Subscription("sqs", sqs_queue_arn)] if sqs_queue_arn else []),
    ]


EVENTS_PRINCIPAL = "events.amazonaws.com"
AMP_PRINCIPAL = "aps.amazonaws.com"
PUBLISHERS: Mapping[str, tuple[str, str]] = {
    # publisher -> (service principal, source ARN pattern after arn:<partition>:)
    "cloudwatch": (CLOUDWATCH_PRINCIPAL, "cloudwatch:{region}:{account}:alarm:*"),
    "events": (EVENTS_PRINCIPAL, "events:{region}:{account}:rule/*"),
    "aps": (AMP_PRINCIPAL, "aps:{region}:{account}:workspace/*"),
}
"""Who may publish to the topic: CloudWatch alarms always; EventBridge rules (deploy events)
and Amazon Managed Prometheus' alert manager when the stack uses them."""
_SIDS = {"cloudwatch": "CloudWatchAlarms", "events": "EventBridgeRules", "aps": "PrometheusAlerts"}


def key_policy(account_id: str, partition: str, publishers: Sequence[str] = ("cloudwatch",)) -> str:
    """The account administers the key (as the default key policy does); each publisher may
    only generate and decrypt data keys, which is what publishing to the encrypted topic takes."""
    return policy_document(
        [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            *(
                {
                    "Sid": f"{_SIDS[publisher]}Publish",
                    "Effect": "Allow",
                    "Principal": {"Service": PUBLISHERS[publisher][0]},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                }
                for publisher in publishers
            ),
        ]
    )


def topic_policy(
    topic_arn: str,
    account_id: str,
    partition: str,
    region: str,
    publishers: Sequence[str] = ("cloudwatch",),
) -> str:
    """Only this account's alarms (rules, workspaces) in this region may publish."""
    return policy_document(
        [
            {
                "Sid": f"{_SIDS[publisher]}Publish",
                "Effect": "Allow",
                "Principal": {"Service": PUBLISHERS[publisher][0]},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:"
                        + PUBLISHERS[publisher][1].format(region=region, account=account_id)
                    },
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
            for publisher in publishers
        ]
    )


@dataclass(frozen=True)
class AlarmTopicArgs:
    emails: Sequence[str] = ()
    """E-mail addresses subscribed to the topic (each must confirm)."""
    webhooks: Sequence[str] = ()
    """https endpoints that confirm SNS subscriptions themselves (PagerDuty, Opsgenie)."""
    sqs_queue_arn: str | None = None
    """A standard SQS queue subscribed to the topic (its policy must admit the topic)."""
    publishers: Sequence[str] = ("cloudwatch",)
    """Services that publish: ``cloudwatch`` always, ``events`` (deploy events), ``aps``."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable child."""


class AlarmTopic(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    """Target of every alarm's alarm and OK actions."""

    def __init__(
        self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "elixir-devops:aws:AlarmTopic",
            name,
            None,
            component_options(opts, "elixir-devops:index:AlarmTopic"),
        )
        tags = dict(args.tags)
        caller = aws.get_caller_identity_output()
        partition = aws.get_partition_output()
        region = aws.get_region_output()

        key = aws.kms.Key(
            f"{name}-alarms",
            description=f"Encrypts the alarm topic of {name}; CloudWatch may publish with it",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                lambda v: key_policy(v[0], v[1], args.publishers)
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        topic = aws.sns.Topic(
            f"{name}-alarms",
            display_name=f"{name} alarms",
            kms_master_key_id=key.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.sns.TopicPolicy(
            f"{name}-alarms",
            arn=topic.arn,
            policy=pulumi.Output.all(
                topic.arn, caller.account_id, partition.partition, region.region
            ).apply(lambda v: topic_policy(v[0], v[1], v[2], v[3], args.publishers)),
            opts=pulumi.ResourceOptions(parent=topic),
        )
        for subscription in subscriptions(args.emails, args.webhooks, args.sqs_queue_arn):
            # Named by endpoint, not position: removing one endpoint leaves the others alone.
            endpoint_id = hashlib.sha256(subscription.endpoint.encode()).hexdigest()[:8]
            aws.sns.TopicSubscription(
                f"{name}-alarms-{subscription.protocol}-{endpoint_id}",
                topic=topic.arn,
                protocol=subscription.protocol,
                endpoint=subscription.endpoint,
                # An https endpoint must confirm the subscription itself (PagerDuty's and
                # Opsgenie's SNS integrations do); waiting for it turns an endpoint that never
                # will (a Slack webhook) into a failed update instead of silently lost alarms.
                endpoint_auto_confirms=subscription.protocol == "https",
                opts=pulumi.ResourceOptions(parent=topic),
            )

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
