"""deploy/monitoring's templates and how deploy.sh fills them in (its render_template),
with sample values: shared by the checks of the files and of the Terraform module, which
fills them in the same way."""

from __future__ import annotations

from pathlib import Path

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"


SAMPLE_VALUES = {
    "PROJECT": "canceller-test-1",
    "FUNCTION": "dataproc-canceller",
    "METRIC": "dataproc-canceller-outcomes",
    "TIME_METRIC": "dataproc-canceller-time-to-stop",
    "DEAD_LETTER_SUBSCRIPTION": "dataproc-cancel-requests-dead-letter-sub",
    "NOTIFY_METRIC": "dataproc-canceller-notifications",
    "BURN_PROMQL": "logging_googleapis_com:user_dataproc_canceller_burn_stopped",
    "SAVED_PROMQL": "logging_googleapis_com:user_dataproc_canceller_saved_up_to",
    "SWEEP_SCHEDULE": "*/15 * * * *",
    "SILENCE_SECONDS": "2400",
    "SILENCE_DURATION": "40 minutes",
    "DEPLOY_DIGEST": "0123456789ab",
}


SAMPLE_CHANNELS = [
    "projects/canceller-test-1/notificationChannels/123",
    "projects/canceller-test-1/notificationChannels/456",
]


def render(text: str, values: dict[str, str], channels: list[str]) -> str:
    """The template filled in the way deploy.sh's render_template does it."""
    text = text.replace('"@@NOTIFICATION_CHANNELS@@"', ", ".join(f'"{c}"' for c in channels))
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    return text
