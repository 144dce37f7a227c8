"""The Dataproc emulator's real-API paths over plain HTTP, as the canceller sees them:
a ``requests`` session answering (status, json) so tests read like the wire, and what
every Google error body must be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

TIMEOUT = 5  # seconds, for every call to the emulator


class Api:
    """The real-API paths, answering (status, json) so tests read like the wire."""

    def __init__(self, base_url: str, session: requests.Session) -> None:
        self.base_url = base_url
        self.session = session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return self.session.request(method, f"{self.base_url}/v1/{path}", **kwargs)

    def get(self, name: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call("GET", name, **kwargs)
        return response.status_code, response.json()

    def cancel(self, name: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call("POST", f"{name}:cancel", **kwargs)
        return response.status_code, response.json()

    def terminate(self, name: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.call("POST", f"{name}:terminate", **kwargs)
        return response.status_code, response.json()

    def list(self, collection: str, **params: Any) -> dict[str, Any]:
        response = self.call("GET", collection, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def list_all(self, collection: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every item across pages, and how many pages it took."""
        key = collection.rsplit("/", 1)[1]  # operations, batches, jobs or sessions
        items, pages, token = [], 0, None
        while True:
            body = self.list(collection, **params, **({"pageToken": token} if token else {}))
            items += body.get(key, [])
            pages += 1
            token = body.get("nextPageToken")
            if not token:
                return items, pages


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def google_error(response_json: dict[str, Any], code: int, status: str) -> None:
    assert set(response_json) == {"error"}
    error = response_json["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]
