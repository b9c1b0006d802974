"""Cursors that callers send back: event ids (``ftevent-N``) checked and bounded before any query."""

from __future__ import annotations

from api.errors import APIError
from store.ids import parse_event_id

#: Largest event number: events are numbered by a 64-bit signed column; a larger cursor cannot match
#: (and would overflow the query: a 500, or a stream reset mid-body).
MAX_EVENT_NUMBER = 2**63 - 1


def parse_event_cursor(raw: str | None, param: str) -> int | None:
    """The event number of ``raw`` (``None`` when absent or empty); 400 naming ``param`` when it is no
    event id or is out of range."""
    if raw is None or raw == "":
        return None
    try:
        number = parse_event_id(raw)
    except ValueError as exc:
        raise APIError(400, f"Invalid value for '{param}': {exc}.", param=param, code="invalid_value") from None
    if number > MAX_EVENT_NUMBER:
        raise APIError(
            400,
            f"Invalid value for '{param}': event numbers go up to {MAX_EVENT_NUMBER}.",
            param=param,
            code="invalid_value",
        )
    return number
