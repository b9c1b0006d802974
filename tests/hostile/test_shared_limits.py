"""Rate limits shared by the API processes of one deployment (Redis), and the per-address guard against
floods of invalid keys (issue 13), on two real ``python -m api`` processes serving one database.

Rates are set so low (one token per 100 s) that nothing refills while a test runs: the counts below do
not depend on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from radis_cli.demo import free_port

from .served import Served, served_api

BURST = 6
FAILURES = 5


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def two_apis(
    make_pg_database: Callable[..., str], tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[Served, Served]]:
    """Two API processes on one database whose buckets live in the test Redis."""
    limits = {
        "rate_limit_per_s": "0.01",
        "rate_limit_burst": str(BURST),
        "invalid_keys_per_ip_per_s": "0.01",
        "invalid_keys_per_ip_burst": str(FAILURES),
        "rate_limit_redis_url": redis_url,
    }
    with (
        served_api(make_pg_database, tmp_path_factory.mktemp("api-a"), **limits) as first,
        served_api(make_pg_database, tmp_path_factory.mktemp("api-b"), database_url=first.database_url, **limits) as second,
    ):
        yield first, second


def test_two_api_processes_spend_from_one_bucket_per_key(two_apis: tuple[Served, Served]) -> None:
    first, second = two_apis
    key, other = first.new_key(), first.new_key()
    statuses = []
    for i in range(2 * BURST):  # alternating: each process alone would allow BURST of them
        api = first if i % 2 == 0 else second
        statuses.append(httpx.get(f"{api.base}/v1/models", headers=_auth(key), timeout=30).status_code)
    assert statuses.count(200) == BURST and statuses[BURST:] == [429] * BURST, statuses
    refused = httpx.get(f"{second.base}/v1/models", headers=_auth(key), timeout=30)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded" and int(refused.headers["retry-after"]) >= 1
    assert httpx.get(f"{second.base}/v1/models", headers=_auth(other), timeout=30).status_code == 200


def test_an_address_flooding_invalid_keys_gets_429_before_its_keys_are_looked_up(two_apis: tuple[Served, Served]) -> None:
    first, second = two_apis
    valid = first.new_key()
    bogus = {"Authorization": "Bearer sk-radis-" + "x" * 43}
    # The address's failures are counted across both processes: FAILURES in all are answered 401.
    answers = [httpx.get(f"{api.base}/v1/models", headers=bogus, timeout=30) for api in (first, second) * FAILURES]
    codes = [a.status_code for a in answers]
    assert codes[:FAILURES] == [401] * FAILURES and set(codes[FAILURES:]) == {429}, codes
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "too_many_invalid_keys" and int(refused.headers["retry-after"]) >= 1
    # Refused before the lookup: even a valid key from this address gets 429 from a process that saw the block.
    blocked = httpx.get(f"{second.base}/v1/models", headers=_auth(valid), timeout=30)
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_invalid_keys"
    assert "retry-after" in blocked.headers


def test_without_redis_each_process_still_limits_on_its_own(make_pg_database: Callable[..., str], tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with served_api(
        make_pg_database, tmp_path, rate_limit_per_s="0.01", rate_limit_burst="3", rate_limit_redis_url=unreachable
    ) as api:
        key = api.new_key()
        codes = [httpx.get(f"{api.base}/v1/models", headers=_auth(key), timeout=30).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert "Redis does not answer" in (tmp_path / "api.log").read_text()
