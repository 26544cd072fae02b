"""Alerts reach a person by mail: an alert is a subject and a plain-text body that says what happened and what to do,
with the commands (docs/alerts.md).

:func:`deliver` sends it through the SMTP provider's notifier (connection `smtp_default`, recipients in the Variable
`aspire_portal_alert_to`); that one function is what a deployment changes to use Slack or another provider. Without a
mail server or recipients configured, an alert is a warning in the log, never a failure.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aspire_portal.settings import RECIPIENTS_VARIABLE, SMTP_CONN_ID

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[aspire-portal]"


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str

    @property
    def html(self) -> str:
        """The body as the HTML part the SMTP notifier sends (preformatted, so the tables and commands keep their
        columns)."""
        return f'<pre style="font-family: monospace">{html.escape(self.body)}</pre>'


def deliver(alert: Alert, context: Mapping[str, Any] | None = None) -> bool:
    """Sends the alert with the SMTP provider's notifier: server from the connection `smtp_default` (its extra holds
    `from_email`), recipients from the Variable `aspire_portal_alert_to` (addresses separated by commas). Returns
    False, with a warning saying what to set, when either is missing; a server that refuses raises.
    To use another provider, this is the function to change (docs/alerts.md)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from aspire_portal.variables import variable

    recipients = [a for a in re.split(r"[,;\s]+", str(variable(RECIPIENTS_VARIABLE, "") or "")) if a]
    try:
        connection = BaseHook.get_connection(SMTP_CONN_ID)
    except AirflowNotFoundException:
        connection = None
    missing = []
    if connection is None:
        missing.append(f"the Airflow connection {SMTP_CONN_ID!r} (the mail server)")
    elif not connection.extra_dejson.get("from_email"):
        missing.append(f"from_email in the extra of the connection {SMTP_CONN_ID!r}")
    if not recipients:
        missing.append(f"the Variable {RECIPIENTS_VARIABLE!r} (who gets alerts, addresses separated by commas)")
    if missing:
        log.warning(
            "Alert NOT sent: no mail is configured; set %s (docs/alerts.md). It said: %s",
            " and ".join(missing),
            alert.subject,
        )
        return False
    # Every field given, so the notifier renders none of them (an error text with "{{" in it stays as it is).
    SmtpNotifier(
        to=recipients,
        from_email=connection.extra_dejson["from_email"],
        subject=alert.subject,
        html_content=alert.html,
        smtp_conn_id=SMTP_CONN_ID,
    ).notify(dict(context or {}))
    log.info("Alert sent to %s: %s", ", ".join(recipients), alert.subject)
    return True


class text:  # noqa: N801 - a namespace of the mails' text helpers
    """How the mails write times, durations, long errors, commands and queries."""

    @staticmethod
    def time(moment: datetime | None) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"

    @staticmethod
    def duration(span: timedelta) -> str:
        minutes = max(0, int(span.total_seconds() // 60))
        if minutes < 60:
            return f"{minutes} min"
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h {minutes} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"

    @staticmethod
    def clip(text: str, limit: int = 2000) -> str:
        return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters in the log)"

    @staticmethod
    def indent(text: str, spaces: int = 2) -> str:
        return "\n".join(" " * spaces + line for line in text.splitlines())

    @staticmethod
    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    @staticmethod
    def psql(query: str) -> str:
        return f'psql -d <portal database> -c "{query}"'

    @staticmethod
    def safe(get: Callable[[], Any]) -> Any:
        try:
            return get()
        except Exception:  # noqa: BLE001 - an optional detail of the mail must never cost the mail
            return None
