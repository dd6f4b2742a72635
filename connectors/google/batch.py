"""Fetching many small GETs as multipart batches, re-queueing what failed.

A batch saves HTTP round trips, not quota: n gets cost n gets (Gmail batch
guide). Google takes at most 100 calls per batch (400 "Inner
request count exceeds the limit" beyond) and advises at most 50, and Gmail
counts every sub-request against the user's concurrency limit, so a batch
holds at most as many items as the user's :class:`ConcurrencyGate` allows
(default 25, halved on "Too many concurrent requests for user", regrown
slowly) and at most as many quota units as the bucket's burst (one second
of quota), so a 2026-priced batch is never refused for arriving all at once.
Batch sizes are counted in units, not items: a threads.get batch holds half
as many as a messages.get batch at the same prices.

The library's ``BatchHttpRequest.execute()`` retries only per-item 401s, so
every other per-item failure (429, 403 rate limits, 5xx, an item with no
answer at all) comes back here; a 404 means the item vanished between
listing and fetching and is dropped. :meth:`BatchFetcher.fetch` re-queues
failures after a back-off; a caller with more ids to come uses
:meth:`BatchFetcher.fetch_once` and lets them join its next batches instead
of a batch of their own (issue 15: 2.5x the requests under 20% part faults). Several
batches run at once when the gate has room, each on its own thread and
connection, so latency does not leave the per-user quota unused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import google.auth.exceptions
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.google.pacing import (
    ConcurrencyGate,
    Pacer,
    is_concurrency_error,
    is_quota_error,
    is_retryable,
    retry_hint,
)

MAX_BATCH = 50  # Google's advice; its hard limit is 100


class BatchFetcher:
    """Runs ``make_request(id)`` for many ids through batches that Google accepts."""

    def __init__(
        self,
        pacer: Pacer,
        batch_uri: str,
        http_for_thread: Callable[[], Any],
        *,
        size: int = MAX_BATCH,
        in_flight: int = 2,
        batch_units: float | None = None,
        auth_failure: Callable[[BaseException], Exception] | None = None,
    ) -> None:
        self.pacer = pacer
        self.batch_uri = batch_uri
        self.http_for_thread = http_for_thread
        self.max_size = max(1, min(size, MAX_BATCH))
        self.in_flight = max(1, in_flight)
        self.batch_units = batch_units if batch_units is not None else pacer.bucket.capacity
        self.auth_failure = auth_failure or (lambda exc: ConnectorError(str(exc)))
        self._pool: ThreadPoolExecutor | None = None

    @property
    def gate(self) -> ConcurrencyGate | None:
        return self.pacer.gate

    def size_for(self, units_each: float) -> int:
        """Items per batch: within Google's advice, the user's concurrency and one burst."""
        by_units = int(self.batch_units // units_each) if units_each > 0 else self.max_size
        by_gate = self.gate.limit if self.gate else self.max_size
        return max(1, min(self.max_size, by_gate, by_units))

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
            ok, failed = self.fetch_once(pending, make_request, units_each)
            results.update(ok)
            pending = list(failed)
            if pending:
                if ok:
                    attempt = 0  # retries count rounds without progress, not partial refusals
                self.pacer.back_off(attempt, _worst(failed.values()))
                attempt += 1
        return results

    def fetch_once(
        self, ids: Sequence[str], make_request: Callable[[str], Any], units_each: float
    ) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
        """One round, no retry: (id -> response, id -> retryable failure). A caller with
        more ids to fetch lets the failed ones join its next batches (:meth:`settle`)."""
        size = self.size_for(units_each)
        chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
        results: dict[str, dict[str, Any]] = {}
        failed: dict[str, BaseException] = {}
        for ok, bad in self._run_all(chunks, make_request, units_each):
            results.update(ok)
            failed.update(bad)
        return results, failed

    def settle(self, failed: dict[str, BaseException], progressed: bool, attempt: int) -> int:
        """After a round whose ``failed`` parts will join later batches; the next attempt.

        A round that fetched nothing, or a wait Google named beyond the pacer's
        ``long_wait``, backs off as :meth:`fetch` does (or ends the run); otherwise
        a quota error still slows the bucket, and the failed parts simply ride in
        the next batches, which go out no sooner than the pacer allows.
        """
        worst = _worst(failed.values())
        hinted = retry_hint(worst)
        if not progressed or (hinted is not None and hinted > self.pacer.long_wait):
            self.pacer.back_off(attempt, worst)
            return attempt + 1
        if is_quota_error(worst):
            self.pacer.bucket.penalize(0.0)
        self.pacer.retries += 1
        return 0

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
        seen_limit = self.gate.limit if self.gate else 0

        def collect(request_id: str, response: Any, exception: BaseException | None) -> None:
            answered.add(request_id)
            if exception is None:
                ok[request_id] = response
            elif isinstance(exception, HttpError) and exception.resp.status == 404:
                pass  # deleted since it was listed
            elif is_retryable(exception):
                bad[request_id] = exception
            elif isinstance(exception, HttpError) and exception.resp.status == 401:
                raise self.auth_failure(exception)
            else:
                raise ConnectorError(f"Google refused a request: {exception}") from exception

        def run() -> None:
            batch = BatchHttpRequest(callback=collect, batch_uri=self.batch_uri)
            for request_id in chunk:
                batch.add(make_request(request_id), request_id=request_id)
            # KeyError: an item without a part in the answer; it is re-queued below.
            with contextlib.suppress(KeyError):
                batch.execute(http=self.http_for_thread())

        try:
            self.pacer.call(units_each * len(chunk), run, slots=len(chunk))
        except google.auth.exceptions.RefreshError as exc:
            # The token expired mid-run and Google refused to renew it (revoked grant,
            # missing delegation): the user has something to do, say what.
            raise self.auth_failure(exc) from None
        refused = sum(1 for e in bad.values() if is_concurrency_error(e))
        if self.gate and refused:
            self.gate.shrink(seen_limit, accepted=len(chunk) - refused)
        for request_id in chunk:
            if request_id not in answered:
                bad.setdefault(request_id, ConnectionError("no answer in the batch response"))
        return ok, bad


def _worst(failures: Any) -> BaseException:
    """The failure to back off for: the longest wait Google named, else a quota error."""
    failures = list(failures)
    hinted = [(h, e) for e in failures if (h := retry_hint(e)) is not None]
    if hinted:
        return max(hinted, key=lambda pair: pair[0])[1]
    quota = [e for e in failures if is_quota_error(e)]
    return quota[0] if quota else failures[0]
