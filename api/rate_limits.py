"""Token buckets shared by every API process of a deployment (in Redis), or kept in this process.

:class:`SharedBuckets` takes one token from a named bucket and answers how long to wait when there is
none. With a Redis URL (the deployment's broker when it is Redis) every API process spends from the same
bucket, so ``rate_limit_per_s`` is the rate of a key across the deployment, not per process; each take
is one atomic Lua script (``EVALSHA``) that refills by Redis' own clock, so processes on machines whose
clocks differ agree. Buckets are namespaced by a digest of the database URL: the processes of one
deployment share one database, and two deployments (or two test sessions) on one Redis never share a
bucket. Without Redis, or while Redis does not answer, the in-process :class:`RateLimiter`
decides (logged once per outage): a Redis fault makes the limit per process, never refuses a request.

:class:`AddressBlocks` is the per-address guard against floods of invalid keys: every failed key check
spends a token of its address's bucket (shared as above); once that bucket is empty the address is
refused with 429 *before* its next key is looked up, for the bucket's ``Retry-After``. The check before
the lookup reads only this process's memory, so valid traffic pays nothing for it; another process
learns of the block at that address's next failure there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger("api.rate_limits")

#: KEYS[1]: the bucket; ARGV: rate per second, burst. Returns the seconds to wait (0 = a token was taken).
TAKE_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""

#: Seconds between attempts to use Redis again after it failed.
REDIS_RETRY_S = 5.0


def namespace_for(database_url: str) -> str:
    """The Redis key prefix of a deployment's buckets (a digest, so the URL and its password stay out)."""
    return "radis:ratelimit:" + hashlib.sha256(database_url.encode()).hexdigest()[:16] + ":"


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``rate`` per second (0 = no limit)."""

    rate: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one token of ``key``'s bucket: 0 when allowed, else the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


@dataclass
class SharedBuckets:
    """Token buckets of ``burst`` tokens refilled at ``rate`` per second, in Redis when ``redis_url`` is set."""

    rate: float
    burst: int
    redis_url: str | None
    namespace: str
    local: RateLimiter = field(init=False)
    _clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = field(default_factory=dict, init=False)
    _failed_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.local = RateLimiter(self.rate, self.burst)

    @property
    def shared(self) -> bool:
        """Whether buckets live in Redis (when it answers)."""
        return bool(self.redis_url)

    def _client(self) -> aioredis.Redis:
        # One client per event loop: an asyncio connection belongs to the loop that opened it (a test
        # client may run the app on several loops in turn).
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            assert self.redis_url is not None
            client = aioredis.Redis.from_url(self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            self._clients[loop] = client
        return client

    async def take(self, name: str) -> float:
        """Spend one token of bucket ``name``: 0 when allowed, else the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        if self.redis_url and (self._failed_at is None or time.monotonic() - self._failed_at >= REDIS_RETRY_S):
            try:
                script = self._client().register_script(TAKE_SCRIPT)
                wait = float(await script(keys=[self.namespace + name], args=[self.rate, self.burst]))
            except (RedisError, OSError) as exc:
                if self._failed_at is None:
                    logger.warning("rate limits: Redis does not answer (%s); limiting per process until it does", exc)
                self._failed_at = time.monotonic()
            else:
                if self._failed_at is not None:
                    logger.info("rate limits: Redis answers again; limits are shared across API processes")
                self._failed_at = None
                return wait
        return self.local.take(name)

    async def aclose(self) -> None:
        """Close the Redis clients of this event loop (the others are closed with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


@dataclass
class AddressBlocks:
    """Failed key checks per client address (see the module docstring)."""

    failures: SharedBuckets
    _blocked_until: dict[str, float] = field(default_factory=dict)

    def blocked_for(self, address: str) -> float:
        """Seconds this address stays refused (0: look its key up). Reads only this process's memory."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked_until[address]
            return 0.0
        return left

    async def failed(self, address: str) -> float:
        """Count a failed key check of ``address``: 0 while under its limit, else the seconds it is refused."""
        wait = await self.failures.take("ip:" + address)
        if wait > 0:
            if len(self._blocked_until) > 100_000:  # a flood from many addresses must not grow this without bound
                now = time.monotonic()
                self._blocked_until = {a: t for a, t in self._blocked_until.items() if t > now}
            self._blocked_until[address] = time.monotonic() + wait
        return wait


def shared_redis_url(rate_limit_redis_url: str, broker_url: str) -> str | None:
    """Where the shared buckets live: ``rate_limit_redis_url``, else the broker when it is Redis; ``None`` per process."""
    if rate_limit_redis_url == "off":
        return None
    if rate_limit_redis_url:
        return rate_limit_redis_url
    return broker_url if broker_url.startswith(("redis://", "rediss://", "unix://")) else None
