"""Forward the alarm topic's notifications to a chat tool's incoming webhook.

An AWS Lambda function (Python 3.12 runtime), entry point ``handler.handler``, deployed as this one
file in a zip: standard library only. boto3, which the Lambda runtime provides, is imported lazily
and only to read the webhook URL from Secrets Manager.

Subscribed to the stack's SNS alarm topic, it turns each record's message into one chat message:

- a CloudWatch alarm state change (ALARM, OK, INSUFFICIENT_DATA);
- an Amazon Managed Service for Prometheus alert group: the Alertmanager JSON that AWS's documented
  ``sns.default.message`` template produces, or the default plain-text message;
- an EventBridge event: "ECS Deployment State Change" ("prod deployed <digest>", "prod deployment
  failed", "prod rolling back", "prod rolled back"), "ECS Service Action", or any other;
- anything else, as a short generic text.

Environment: ``CHAT_FLAVOUR`` (slack, teams, discord, googlechat), ``WEBHOOK_SECRET_ARN`` (the
secret whose string is the webhook URL, or a JSON object with a ``url`` key), ``STACK``, ``APP``,
``IMAGE`` (optional: the image reference pinned by digest that the stack deploys) and
``TIMEOUT_SECONDS`` (default 5).

A webhook that answers 4xx/5xx, times out or cannot be reached never makes the function raise
(SNS and Lambda would retry into the same broken webhook): the function writes one JSON log line
(the status, the flavour, never the URL, which is the credential) and one CloudWatch Embedded
Metric Format line, ``ElixirDevops/Forwarder`` ``DeliveryFailures`` by ``Stack``, that the stack
alarms on.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, MutableSet
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("forwarder")
LOG.setLevel(logging.INFO)

METRIC_NAMESPACE = "ElixirDevops/Forwarder"
FAILURE_METRIC = "DeliveryFailures"
FLAVOURS = ("slack", "teams", "discord", "googlechat")
DEFAULT_TIMEOUT_SECONDS = 5.0

# Longest message text each tool takes, counted in UTF-16 code units (what Discord's and Teams'
# JavaScript clients count; never more than code points). Discord rejects content over 2000;
# Google Chat's text field takes 4096; Slack advises 4000 for `text`; a Teams card holds 28 KB.
TEXT_LIMITS = {"slack": 4000, "teams": 4000, "discord": 2000, "googlechat": 4096}
ELLIPSIS = "…"
MAX_ALERT_LINES = 10
MAX_RESPONSE_SNIPPET = 200

SEVERITY_EMOJI = {
    "critical": "\N{LARGE RED CIRCLE}",
    "warning": "\N{LARGE ORANGE CIRCLE}",
    "good": "\N{WHITE HEAVY CHECK MARK}",
    "info": "\N{INFORMATION SOURCE}\ufe0f",
}
# Adaptive Card TextBlock colours.
SEVERITY_COLOUR = {"critical": "Attention", "warning": "Warning", "good": "Good", "info": "Default"}


@dataclass(frozen=True)
class Settings:
    """What the function reads from its environment."""

    flavour: str
    stack: str
    app: str = ""
    image: str = ""
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    secret_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            flavour=env.get("CHAT_FLAVOUR", "").strip().lower(),
            stack=env.get("STACK", "").strip() or "stack",
            app=env.get("APP", "").strip(),
            image=env.get("IMAGE", "").strip(),
            timeout_seconds=_timeout(env.get("TIMEOUT_SECONDS", "")),
            secret_arn=env.get("WEBHOOK_SECRET_ARN", "").strip(),
        )


def _timeout(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS
    return value if 0 < value <= 60 else DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Notice:
    """One chat message before it is shaped for a tool."""

    kind: str  # alarm | prometheus | deployment | event | text
    severity: str  # critical | warning | good | info
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """What the webhook answered."""

    ok: bool
    status: int | None
    error: str = ""
    detail: str = ""


# --- describing a message ------------------------------------------------------------------------

# Deployment ids seen rolling back, so their completion reads "rolled back" rather than "deployed
# <the stack's image>". Per container and best effort: a cold start between the two events loses it.
_ROLLBACKS: set[str] = set()
_MAX_ROLLBACKS = 100


def describe(
    message: str,
    subject: str | None,
    settings: Settings,
    rollbacks: MutableSet[str] = _ROLLBACKS,
) -> Notice:
    """Turn one SNS message into a Notice. Never raises on content."""
    where = f"[{settings.app}] {settings.stack}" if settings.app else settings.stack
    stripped = message.strip()
    try:
        doc: Any = json.loads(stripped)
    except ValueError:
        if stripped.startswith(("{", "[")):
            _log(logging.WARNING, event="invalid_json", stack=settings.stack, length=len(message))
        return _text(where, subject, message)
    if isinstance(doc, dict):
        if "AlarmName" in doc and "NewStateValue" in doc:
            return _alarm(doc, where)
        if isinstance(doc.get("alerts"), list):
            return _alertmanager(doc, where)
        if "detail-type" in doc and isinstance(doc.get("detail"), dict):
            return _event(doc, where, settings.image, rollbacks)
    compact = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return Notice("text", "info", f"{where} {subject or 'notification'}", (_clip(compact, 500),))


def _text(where: str, subject: str | None, message: str) -> Notice:
    return Notice("text", "info", f"{where} {subject or 'notification'}", (message.strip(),))


def _alarm(doc: dict[str, Any], where: str) -> Notice:
    state = _str(doc.get("NewStateValue")) or "UNKNOWN"
    severity = {"ALARM": "critical", "OK": "good"}.get(state, "warning")
    lines = [_str(doc.get("NewStateReason")), _str(doc.get("AlarmDescription"))]
    when = " · ".join(s for s in (_str(doc.get("StateChangeTime")), _str(doc.get("Region"))) if s)
    old = _str(doc.get("OldStateValue"))
    lines.append(f"{when} (was {old})" if old else when)
    return Notice("alarm", severity, f"{where} {state}: {_str(doc.get('AlarmName'))}", _kept(lines))


def _alertmanager(doc: dict[str, Any], where: str) -> Notice:
    status = _str(doc.get("status")) or "firing"
    alerts = [a for a in doc["alerts"] if isinstance(a, dict)]
    common = doc.get("commonLabels")
    if not isinstance(common, dict):
        common = {}
    names: list[str] = []
    for alert in alerts:
        name = _str(_labels(alert).get("alertname")) or _str(common.get("alertname"))
        if name and name not in names:
            names.append(name)
    shown = ", ".join(names[:3]) or "alert"
    if len(names) > 3:
        shown += f" (+{len(names) - 3} more)"
    firing = status == "firing"
    title = f"{where} {'FIRING' if firing else 'RESOLVED'}: {shown}"
    lines: list[str] = []
    for alert in alerts[:MAX_ALERT_LINES]:
        lines.append(_alert_line(alert, status))
        runbook = _annotations(alert).get("runbook_url") or _annotations(alert).get("runbook")
        if runbook:
            lines.append(f"  runbook: {_str(runbook)}")
    if len(alerts) > MAX_ALERT_LINES:
        lines.append(f"… and {len(alerts) - MAX_ALERT_LINES} more alerts")
    return Notice("prometheus", "critical" if firing else "good", title, tuple(lines))


def _alert_line(alert: dict[str, Any], group_status: str) -> str:
    labels, annotations = _labels(alert), _annotations(alert)
    name = _str(labels.get("alertname")) or "alert"
    level = _str(labels.get("severity"))
    text = _str(annotations.get("summary")) or _str(annotations.get("description"))
    status = _str(alert.get("status"))
    parts = [f"• {name}"]
    if level:
        parts.append(f"[{level}]")
    if status and status != group_status:
        parts.append(f"({status})")
    line = " ".join(parts) + (f": {text}" if text else "")
    starts = _str(alert.get("startsAt"))
    return f"{line} (since {starts})" if starts else line


def _event(doc: dict[str, Any], where: str, image: str, rollbacks: MutableSet[str]) -> Notice:
    detail_type = _str(doc.get("detail-type"))
    detail: dict[str, Any] = doc["detail"]
    name = _str(detail.get("eventName"))
    reason = _str(detail.get("reason"))
    resources = doc.get("resources")
    if not isinstance(resources, list):
        resources = []
    service = next((_str(r).rsplit("/", 1)[-1] for r in resources if ":service/" in _str(r)), "")
    if detail_type != "ECS Deployment State Change":
        event_type = _str(detail.get("eventType"))
        severity = {"ERROR": "critical", "WARN": "warning"}.get(event_type, "info")
        title = f"{where} {detail_type}" + (f": {name}" if name else "")
        context = " · ".join(s for s in (service, _str(doc.get("time"))) if s)
        return Notice("event", severity, title, _kept([reason, context]))

    deployment = _str(detail.get("deploymentId"))
    context = " · ".join(
        s for s in (f"service {service}" if service else "", deployment, _str(doc.get("time"))) if s
    )
    release = _short_image(image) or deployment
    if name == "SERVICE_DEPLOYMENT_COMPLETED":
        if deployment in rollbacks:
            rollbacks.discard(deployment)
            lines = ["The service runs its previous revision again.", reason, context]
            return Notice("deployment", "warning", f"{where} rolled back", _kept(lines))
        lines = [f"image {image}" if image else "", reason, context]
        return Notice("deployment", "good", f"{where} deployed {release}", _kept(lines))
    if name == "SERVICE_DEPLOYMENT_FAILED":
        lines = [reason, f"image {image}" if image else "", context]
        return Notice("deployment", "critical", f"{where} deployment failed", _kept(lines))
    if name == "SERVICE_DEPLOYMENT_IN_PROGRESS" and "rolling back" in reason.lower():
        if len(rollbacks) >= _MAX_ROLLBACKS:
            rollbacks.clear()
        rollbacks.add(deployment)
        return Notice("deployment", "warning", f"{where} rolling back", _kept([reason, context]))
    if name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        title = f"{where} deploying {release}"
        return Notice("deployment", "info", title, _kept([reason, context]))
    return Notice("deployment", "info", f"{where} {name or detail_type}", _kept([reason, context]))


def _short_image(image: str) -> str:
    """`repo@sha256:<64 hex>` → `sha256:<12 hex>`: the digest a person compares at a glance."""
    _, _, digest = image.rpartition("@")
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm and hexdigest:
        return f"{algorithm}:{hexdigest[:12]}"
    return image


def _labels(alert: dict[str, Any]) -> dict[str, Any]:
    labels = alert.get("labels")
    return labels if isinstance(labels, dict) else {}


def _annotations(alert: dict[str, Any]) -> dict[str, Any]:
    annotations = alert.get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _kept(lines: list[str]) -> tuple[str, ...]:
    return tuple(line for line in lines if line)


# --- shaping it for a chat tool ------------------------------------------------------------------


def render(notice: Notice, flavour: str) -> dict[str, Any]:
    """The JSON body the flavour's incoming webhook takes."""
    limit = TEXT_LIMITS[flavour]
    emoji = SEVERITY_EMOJI.get(notice.severity, "")
    if flavour == "teams":
        return _teams_card(notice, limit)
    if flavour == "slack":
        text = _clip(f"{emoji} *{notice.title}*\n" + "\n".join(notice.lines), limit)
        # Slack reads &, < and > as markup (links, mentions); alarm reasons contain them.
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return {"text": escaped}
    if flavour == "discord":
        text = _clip(f"{emoji} **{notice.title}**\n" + "\n".join(notice.lines), limit)
        # An alert annotation saying @everyone must not ping the whole server.
        return {"content": text, "allowed_mentions": {"parse": []}}
    text = _clip(f"{emoji} *{notice.title}*\n" + "\n".join(notice.lines), limit)
    return {"text": text}


def _teams_card(notice: Notice, limit: int) -> dict[str, Any]:
    """An Adaptive Card message: what a Teams Workflows "webhook request" flow posts to a channel.

    Microsoft retires Office 365 connectors (and their MessageCard format); the Workflows
    template "Post to a channel when a webhook request is received" takes `attachments[]` of
    `application/vnd.microsoft.card.adaptive`. Version 1.4 renders on every Teams client.
    """
    budget = limit - _utf16_len(notice.title)
    blocks: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _clip(notice.title, limit),
            "weight": "Bolder",
            "size": "Medium",
            "color": SEVERITY_COLOUR.get(notice.severity, "Default"),
            "wrap": True,
        }
    ]
    for line in notice.lines:
        if budget <= 0:
            break
        shown = _clip(line, budget)
        budget -= _utf16_len(shown)
        blocks.append({"type": "TextBlock", "text": shown, "wrap": True, "spacing": "Small"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": blocks,
        "msteams": {"width": "Full"},
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-16 code units, ending in an ellipsis when cut."""
    if _utf16_len(text) <= limit:
        return text
    kept, used = [], _utf16_len(ELLIPSIS)
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ELLIPSIS


# --- delivering it -------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would become a GET elsewhere and look delivered: report the 3xx."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_json(url: str, body: dict[str, Any], timeout: float) -> Delivery:
    """POST `body` to `url`; every failure is returned, none raised."""
    if not url.startswith(("https://", "http://")):
        return Delivery(False, None, "invalid_url", "the webhook URL is not http(s)")
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "elixir-devops-chat-forwarder",
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(1024)
            return Delivery(True, response.status)
    except urllib.error.HTTPError as err:
        return Delivery(False, err.code, "http_error", _response_snippet(err))
    except urllib.error.URLError as err:
        reason = err.reason
        kind = "timeout" if isinstance(reason, TimeoutError) else "unreachable"
        return Delivery(False, None, kind, f"{type(reason).__name__}: {reason}")
    except TimeoutError as err:
        return Delivery(False, None, "timeout", f"{type(err).__name__}: {err}")
    except (OSError, http.client.HTTPException, ValueError) as err:
        return Delivery(False, None, "unreachable", type(err).__name__)


def _response_snippet(err: urllib.error.HTTPError) -> str:
    try:
        return err.read(MAX_RESPONSE_SNIPPET).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


# --- the webhook URL -----------------------------------------------------------------------------

_WEBHOOK_URLS: dict[str, str] = {}


def _boto3_secrets_client() -> Any:
    import boto3  # the Lambda runtime ships it; imported here so the rest runs without it

    return boto3.client("secretsmanager")


# Replaced in tests by a client whose answers are stubbed.
SECRETS_CLIENT_FACTORY: Callable[[], Any] = _boto3_secrets_client


def webhook_url_from_secret(secret_arn: str) -> str:
    """The webhook URL stored in `secret_arn`, read once per container."""
    if not secret_arn:
        raise ValueError("WEBHOOK_SECRET_ARN is not set")
    cached = _WEBHOOK_URLS.get(secret_arn)
    if cached:
        return cached
    value = SECRETS_CLIENT_FACTORY().get_secret_value(SecretId=secret_arn).get("SecretString")
    url = _url_in_secret(value if isinstance(value, str) else "")
    _WEBHOOK_URLS[secret_arn] = url
    return url


def forget_webhook_url(secret_arn: str) -> None:
    """After a failed delivery: the next invocation reads the secret again (it may be rotated)."""
    _WEBHOOK_URLS.pop(secret_arn, None)


def _url_in_secret(value: str) -> str:
    text = value.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        text = _str(doc.get("url")) if isinstance(doc, dict) else ""
    if not text.startswith(("https://", "http://")):
        # The value itself is never echoed: it may be a mistyped credential.
        raise ValueError("the secret holds no http(s) URL (plain URL or JSON with a 'url' key)")
    return text


# --- the entry point -----------------------------------------------------------------------------


def forward(
    event: Any,
    settings: Settings,
    webhook_url: Callable[[], str],
    rollbacks: MutableSet[str] = _ROLLBACKS,
) -> dict[str, int]:
    """Deliver every SNS record of `event`; count deliveries and failures. Never raises."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        _log(logging.WARNING, event="ignored", stack=settings.stack, reason="no SNS records")
        return {"delivered": 0, "failed": 0}
    counts = {"delivered": 0, "failed": 0}
    for record in records:
        outcome = _forward_record(record, settings, webhook_url, rollbacks)
        counts["delivered" if outcome else "failed"] += 1
    return counts


def _forward_record(
    record: Any,
    settings: Settings,
    webhook_url: Callable[[], str],
    rollbacks: MutableSet[str],
) -> bool:
    url = ""
    kind = "unknown"
    try:
        sns = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(sns, dict):
            sns = {}
        message = sns.get("Message")
        notice = describe(
            message if isinstance(message, str) else json.dumps(message),
            sns.get("Subject") if isinstance(sns.get("Subject"), str) else None,
            settings,
            rollbacks,
        )
        kind = notice.kind
        if settings.flavour not in FLAVOURS:
            delivery = Delivery(False, None, "unknown_flavour", f"CHAT_FLAVOUR not in {FLAVOURS}")
        else:
            body = render(notice, settings.flavour)
            try:
                url = webhook_url()
            except Exception as err:  # unreadable secret: report it like any failed delivery
                detail = f"{type(err).__name__}: {err}"
                delivery = Delivery(False, None, "secret_unavailable", detail)
            else:
                delivery = post_json(url, body, settings.timeout_seconds)
    except Exception as err:  # a bug here must not turn into SNS/Lambda retries
        delivery = Delivery(False, None, "forwarder_error", f"{type(err).__name__}: {err}")
    if delivery.ok:
        _log(
            logging.INFO,
            event="delivered",
            flavour=settings.flavour,
            stack=settings.stack,
            kind=kind,
            status=delivery.status,
        )
        return True
    _log(
        logging.ERROR,
        secret=url,
        event="delivery_failed",
        flavour=settings.flavour,
        stack=settings.stack,
        kind=kind,
        status=delivery.status,
        error=delivery.error,
        detail=delivery.detail,
    )
    emit_failure_metric(settings.stack)
    if settings.secret_arn:
        forget_webhook_url(settings.secret_arn)
    return False


def emit_failure_metric(stack: str) -> None:
    """One CloudWatch Embedded Metric Format line: CloudWatch Logs turns it into a metric.

    Printed, not logged: the Lambda runtime prefixes logging records with level, time and request
    id, and CloudWatch only extracts metrics from log events that are a JSON object.
    """
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["Stack"]],
                    "Metrics": [{"Name": FAILURE_METRIC, "Unit": "Count"}],
                }
            ],
        },
        "Stack": stack,
        FAILURE_METRIC: 1,
    }
    print(json.dumps(line), flush=True)


def _log(level: int, secret: str = "", **fields: Any) -> None:
    """One JSON log line; `secret` (the webhook URL) is cut out of it wherever it appears."""
    line = json.dumps(fields, default=str, ensure_ascii=False)
    if secret:
        line = line.replace(secret, "<webhook>").replace(json.dumps(secret)[1:-1], "<webhook>")
    LOG.log(level, line)


def handler(event: Any, context: Any) -> dict[str, int]:
    """The Lambda entry point (`handler.handler`)."""
    settings = Settings.from_env(os.environ)
    return forward(event, settings, lambda: webhook_url_from_secret(settings.secret_arn))
