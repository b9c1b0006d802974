"""Prometheus metrics: requests by route (count and latency) and jobs by status.

Each app has its own :class:`~prometheus_client.CollectorRegistry`, so several apps in one process
(tests) do not collide. Requests are labelled with the route *template* (``/v1/files/{file_id}``), never
the raw path, so ids cannot blow up the number of series.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.models import JobStatus

#: Label of requests that matched no route (scanners, typos).
UNMATCHED_ROUTE = "<unmatched>"

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass
class Metrics:
    """The app's collectors."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "radis_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "radis_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "radis_jobs",
            "Fine-tuning jobs by status (all projects), read from the database at scrape time.",
            ["status"],
            registry=self.registry,
        )

    def set_job_counts(self, counts: dict[str, int]) -> None:
        """Publish job counts; every status gets a sample, 0 when absent from ``counts``."""
        for status in JobStatus:
            self.jobs.labels(status=status.value).set(counts.get(status.value, 0))

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """The matched route's path template, or :data:`UNMATCHED_ROUTE`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: streamed uploads and downloads pass untouched)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope.get("method", "")
            route = route_template(scope)
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(time.perf_counter() - started)
