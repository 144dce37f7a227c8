"""The real gcloud, run offline: what deploy.sh's and the Terraform module's checks run
it with (no account, no project, no metadata server)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def real_gcloud() -> str:
    gcloud = shutil.which("gcloud")
    assert gcloud, "the Google Cloud CLI (gcloud) is needed to check deploy.sh's commands"
    return gcloud


def offline_env(config_dir: Path) -> dict[str, str]:
    """An empty gcloud configuration: no account, no project, no metadata server."""
    config_dir.mkdir(parents=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLOUDSDK_", "GOOGLE_", "CANCELLER_", "FAKE_GCLOUD_"))
    }
    return env | {
        "CLOUDSDK_CONFIG": str(config_dir),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
    }
