"""Per-process state, built on first use: settings, the Dataproc session and its request
budget, the publisher; and the one clock every client, budget and cache of the process
measures and waits on (canceller.clock).

Nothing is built at import time: a client made then fails without credentials, can
hang after gunicorn forks, and would slow every cold start. Building is locked, since
a gen2 instance serves several requests at once, and happens once per process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

import google.auth
import requests
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from canceller.clock import SYSTEM_CLOCK, Clock
from canceller.dataproc import DataprocClient
from canceller.logs import log
from canceller.org_apis import ORG_APIS, OrgApi
from canceller.organisation import Directory
from canceller.publishing import ResultPublisher
from canceller.request_budget import Bucket, BudgetKey, RequestBudget
from canceller.rest import RestClient
from canceller.settings import Settings, SettingsError, load_settings

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_POOL_SIZE = 64  # connections kept to Dataproc: above the server's threads x MAX_CONCURRENCY


def _read_environment_once(session: requests.Session, endpoint: str) -> None:
    """Take the proxy and CA-bundle settings from the environment now, as requests
    would on every call, and stop it from looking again (``trust_env``).

    Looking again costs a quarter of requests' CPU per call (it scans the whole
    environment for proxies and checks for a .netrc; benchmarks/run.py), and the answer
    cannot change: a function's environment is fixed for its life, and every call goes
    to this one endpoint. A .netrc entry for the endpoint would have replaced our bearer
    token, so no longer reading .netrc loses nothing that worked."""
    session.proxies.update(get_environ_proxies(endpoint))
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    session.trust_env = False


class ConfigurationError(RuntimeError):
    """Raised on every message while a setting is wrong: the message is kept for
    redelivery (or dead-lettering) instead of being acked without an answer."""


class LocalEmulatorCredentials(auth_credentials.Credentials):
    """For DATAPROC_EMULATOR_HOST: a fixed token, refreshable, so the emulator exercises
    the same AuthorizedSession path (including refresh on 401) as production."""

    def __init__(self) -> None:
        # google-auth leaves Credentials.__init__ unannotated; untyped_calls_exclude does
        # not reach a super() call.
        super().__init__()  # type: ignore[no-untyped-call]

    def refresh(self, request: object) -> None:
        self.token = "local-emulator-token"


class Runtime:
    def __init__(
        self, environ: Mapping[str, str] | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self.clock = clock  # a message's deadlines must be on it too (dispatch.handle_trigger)
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._google_default: tuple[auth_credentials.Credentials, str | None] | None = None
        self._dataproc: DataprocClient | None = None
        self._publisher: ResultPublisher | None = None
        self._directory: Directory | None = None

    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                try:
                    self._settings = load_settings(self._environ, self._default_project)
                except SettingsError as error:
                    log("CRITICAL", f"configuration error: {error}", setting_error=str(error))
                    raise ConfigurationError(str(error)) from None
            return self._settings

    def dataproc(self) -> DataprocClient:
        settings = self.settings()
        with self._lock:
            if self._dataproc is None:
                self._dataproc = self._make_dataproc(settings)
            return self._dataproc

    def publisher(self) -> ResultPublisher:
        settings = self.settings()
        with self._lock:
            if self._publisher is None:
                self._publisher = ResultPublisher(
                    settings.results_topic, settings.publish_timeout_seconds
                )
            return self._publisher

    def directory(self) -> Directory:
        """The organisation APIs (budgets, billing, Resource Manager, Cloud Asset), each
        with its own request budget; built on first use, like the Dataproc client."""
        settings = self.settings()
        with self._lock:
            if self._directory is None:
                clients = {api.name: self._org_client(settings, api) for api in ORG_APIS}
                self._directory = Directory(clients, settings.scope_cache_seconds, self.clock)
            return self._directory

    def _org_client(self, settings: Settings, api: OrgApi) -> RestClient:
        emulator = settings.org_api_hosts.get(api.name)
        endpoint = f"http://{emulator}" if emulator else f"https://{api.host}"
        session = self._session(endpoint, local=emulator is not None)
        limit = settings.org_requests_per_minute[api.name]
        # One window per API: Budgets, Resource Manager and Cloud Asset quotas are per
        # consumer project, not per project and region as Dataproc's.
        return RestClient(
            session,
            endpoint,
            settings.request_timeout_seconds,
            RequestBudget(limit, limit, limit, self.clock),
            self.clock,
            version=api.version,
            key_of=lambda method, path: BudgetKey(api.name, "", Bucket.DEFAULT),
        )

    def _session(self, endpoint: str, *, local: bool) -> AuthorizedSession:
        """An authorised session to ``endpoint``: the emulator's fixed token, or the
        runtime service account's. Called under self._lock."""
        credentials: auth_credentials.Credentials = (
            LocalEmulatorCredentials() if local else self._google_defaults()[0]
        )
        # max_refresh_attempts=1: a 401 refreshes the token once, then is an answer.
        session = AuthorizedSession(credentials, max_refresh_attempts=1)
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        _read_environment_once(session, endpoint)
        return session

    def _make_dataproc(self, settings: Settings) -> DataprocClient:
        if settings.dataproc_emulator_host:
            endpoint = f"http://{settings.dataproc_emulator_host}"
        else:
            endpoint = settings.dataproc_endpoint
        session = self._session(endpoint, local=settings.dataproc_emulator_host is not None)
        # One budget per process: the client is built once, so all its requests share it.
        budget = RequestBudget(
            settings.dataproc_requests_per_minute,
            settings.dataproc_job_cancels_per_minute,
            settings.dataproc_cluster_operations_per_minute,
            self.clock,
            project_requests_per_minute=settings.dataproc_project_requests_per_minute,
        )
        return DataprocClient(
            session, endpoint, settings.request_timeout_seconds, budget, self.clock
        )

    def _default_project(self) -> str | None:
        try:
            return self._google_defaults()[1]
        except auth_exceptions.DefaultCredentialsError:
            return None

    def _google_defaults(self) -> tuple[auth_credentials.Credentials, str | None]:
        # Called under self._lock by settings() and dataproc().
        if self._google_default is None:
            self._google_default = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
        return self._google_default
