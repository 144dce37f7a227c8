"""Google's own clients pointed at the Dataproc emulator (which also serves the
organisation APIs): the generated REST transports and the real gcloud CLI, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from google.auth.credentials import AnonymousCredentials

from dataproc_emulator import DataprocEmulator

C = TypeVar("C")
Gcloud = Callable[..., subprocess.CompletedProcess[str]]


def rest_client(client_class: type[C], emulator: DataprocEmulator) -> C:
    """An anonymous client of ``client_class`` on its REST transport, at the emulator."""
    # The REST transport keeps an explicit http:// scheme from api_endpoint
    # (url_scheme only applies to a bare host; see transports/rest_base.py).
    return client_class(  # type: ignore[call-arg]
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.base_url},
    )


def gcloud_against(
    emulator: DataprocEmulator,
    tmp_path: Path,
    *,
    apis: Iterable[str],
    project: str,
    extra_args: tuple[str, ...] = (),
) -> Gcloud:
    """Runs the real gcloud with each of ``apis`` (``DATAPROC``, ``CLOUDASSET``, ...)
    pointed at the emulator, offline, with a dummy access token and a config of its own
    in ``tmp_path``; ``extra_args`` go after every command's own. Fails the test on a
    non-zero exit."""
    binary = shutil.which("gcloud")
    assert binary, "the Google Cloud CLI (gcloud) is needed: apt-get install google-cloud-cli"
    token = tmp_path / "token"
    token.write_text("dummy-access-token")
    env = {
        **os.environ,
        **{f"CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}": emulator.base_url + "/" for api in apis},
        "CLOUDSDK_CONFIG": str(tmp_path / "config"),
        "CLOUDSDK_CORE_PROJECT": project,
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, *args, f"--access-token-file={token}", *extra_args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result

    return run
