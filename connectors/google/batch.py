"""Fetching many small GETs as multipart batches, re-queueing what failed.

A batch saves HTTP round trips, not quota: 50 gets cost 50 gets (Gmail batch
guide; research §1.3), and Google advises at most 50 per batch. The library's
``BatchHttpRequest.execute()`` retries only per-item 401s, so every other
per-item failure (429, 403 rate limits, 5xx, an item with no answer at all)
comes back here and is re-queued after a back-off; a 404 means the item
vanished between listing and fetching and is dropped. Up to ``in_flight``
batches run at once, each on its own thread and connection, so latency does
not leave the per-user quota unused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from peerpulse.connectors.base import AuthRequired, ConnectorError
from peerpulse.connectors.google.pacing import Pacer, is_retryable

MAX_BATCH = 50


class BatchFetcher:
    """Runs ``make_request(id)`` for many ids through batches of at most ``size``."""

    def __init__(
        self,
        pacer: Pacer,
        batch_uri: str,
        http_for_thread: Callable[[], Any],
        *,
        size: int = MAX_BATCH,
        in_flight: int = 2,
        auth_command: str = "",
    ) -> None:
        self.pacer = pacer
        self.batch_uri = batch_uri
        self.http_for_thread = http_for_thread
        self.size = min(size, MAX_BATCH)
        self.in_flight = max(1, in_flight)
        self.auth_command = auth_command
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def fetch(
        self, ids: Sequence[str], make_request: Callable[[str], Any], units_each: float
    ) -> dict[str, dict[str, Any]]:
        """id -> response for every id that exists; vanished ones (404) are left out."""
        results: dict[str, dict[str, Any]] = {}
        pending = list(dict.fromkeys(ids))
        attempt = 0
        while pending:
            chunks = [pending[i : i + self.size] for i in range(0, len(pending), self.size)]
            failed: dict[str, BaseException] = {}
            for ok, bad in self._run_all(chunks, make_request, units_each):
                results.update(ok)
                failed.update(bad)
            pending = list(failed)
            if pending:
                self.pacer.back_off(attempt, next(iter(failed.values())))
                attempt += 1
        return results

    def _run_all(self, chunks: list[list[str]], make_request: Callable[[str], Any], units: float):
        if len(chunks) == 1 or self.in_flight == 1:
            return [self._run_chunk(chunk, make_request, units) for chunk in chunks]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="google-batch")
        futures = [self._pool.submit(self._run_chunk, c, make_request, units) for c in chunks]
        return [f.result() for f in futures]

    def _run_chunk(
        self, chunk: list[str], make_request: Callable[[str], Any], units_each: float
    ) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
        ok: dict[str, dict[str, Any]] = {}
        bad: dict[str, BaseException] = {}
        answered: set[str] = set()

        def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
            answered.add(request_id)
            if exception is None:
                ok[request_id] = response
            elif isinstance(exception, HttpError) and exception.resp.status == 404:
                pass  # deleted since it was listed
            elif is_retryable(exception):
                bad[request_id] = exception
            elif isinstance(exception, HttpError) and exception.resp.status == 401:
                raise AuthRequired(
                    "Google no longer accepts this account's token", command=self.auth_command
                )
            else:
                raise ConnectorError(f"Google refused a request: {exception}") from exception

        def run() -> None:
            batch = BatchHttpRequest(callback=collect, batch_uri=self.batch_uri)
            for request_id in chunk:
                batch.add(make_request(request_id), request_id=request_id)
            # KeyError: an item without a part in the answer; it is re-queued below.
            with contextlib.suppress(KeyError):
                batch.execute(http=self.http_for_thread())

        self.pacer.call(units_each * len(chunk), run)
        for request_id in chunk:
            if request_id not in answered:
                bad.setdefault(request_id, ConnectionError("no answer in the batch response"))
        return ok, bad
