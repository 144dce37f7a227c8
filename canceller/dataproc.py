"""The few Dataproc REST calls we make: read one resource, send a kind's stop, list a
page. Retries, timeouts, errors and the request budget are ``canceller.rest``'s; only
ever the configured endpoint is called, with paths built from names that
``canceller.names`` already validated.
"""

from __future__ import annotations

from typing import Any

from canceller.clock import Deadline
from canceller.kinds import StopCall
from canceller.rest import RestClient


class DataprocClient(RestClient):
    """Dataproc's v1 API; every request of the process shares one budget, keyed by
    project, region and quota bucket (``canceller.request_budget.budget_key``)."""

    def get(self, name: str, deadline: Deadline, *, urgent: bool = False) -> dict[str, Any]:
        """Read one resource (of any kind) by its full name.
        ``urgent``: it verifies a stop already sent, so it goes ahead in the budget."""
        return self.call("GET", name, deadline, urgent=urgent)

    def stop(self, call: StopCall, deadline: Deadline) -> dict[str, Any]:
        """Send a kind's stop request: a custom method such as ``NAME:cancel`` (a body of
        None sends no body at all, which operations.cancel requires; jobs.cancel takes
        ``{}``), or a ``DELETE`` with its query."""
        params = dict(call.params) or None
        return self.call(call.method, call.path, deadline, params, body=call.body)

    def list(
        self,
        collection: str,
        deadline: Deadline,
        params: dict[str, str],
        *,
        urgent: bool = False,
    ) -> dict[str, Any]:
        """One page of ``collection`` (e.g. projects/P/regions/R/jobs)."""
        return self.call("GET", collection, deadline, params, urgent=urgent)
