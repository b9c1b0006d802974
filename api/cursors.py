"""Paging: cursors that callers send back (event ids, checked and bounded before any query), and pages
bounded in bytes."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

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


#: Largest list answer, in bytes of JSON: a page ends early (``has_more``: true) rather than grow past
#: it; the caller goes on from its last id, as after any page.
MAX_PAGE_BYTES = 1 << 20

Item = TypeVar("Item", bound=BaseModel)


def bounded_page(items: list[Item], has_more: bool, budget: int | None = None) -> tuple[list[Item], bool]:
    """The first of ``items`` whose JSON fits in ``budget`` bytes (:data:`MAX_PAGE_BYTES` by default; at
    least one item, so paging always moves on), and whether more remain."""
    budget = MAX_PAGE_BYTES if budget is None else budget
    total = 0
    for index, item in enumerate(items):
        total += len(item.model_dump_json())
        if index > 0 and total > budget:
            return items[:index], True
    return items, has_more
