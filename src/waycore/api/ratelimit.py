"""Per-key token buckets (API.md section 4.3): in-process, or shared through Redis."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

DEFAULTS = {"live": (100.0, 200.0), "test": (25.0, 50.0)}  # rate per second, burst


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("RateLimit-Limit", str(self.limit)),
            ("RateLimit-Remaining", str(self.remaining)),
            ("RateLimit-Reset", str(self.reset_s)),
        ]


class Limiter(Protocol):
    async def take(self, key_id: str, environment: str) -> Decision: ...


def _decide(tokens: float, rate: float, burst: float, allowed: bool) -> Decision:
    return Decision(
        allowed=allowed,
        limit=int(burst),
        remaining=max(0, math.floor(tokens)),
        reset_s=max(0, math.ceil((burst - tokens) / rate)),
        retry_after_s=0 if allowed else max(1, math.ceil((1 - tokens) / rate)),
    )


class MemoryLimiter:
    def __init__(self, multiplier: float) -> None:
        self.multiplier = multiplier
        self._buckets: dict[str, tuple[float, float]] = {}

    def _params(self, environment: str) -> tuple[float, float]:
        rate, burst = DEFAULTS[environment]
        return rate * self.multiplier, burst * self.multiplier

    async def take(self, key_id: str, environment: str) -> Decision:
        rate, burst = self._params(environment)
        now = time.monotonic()
        tokens, last = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            tokens -= 1
            self._buckets[key_id] = (tokens, now)
            return _decide(tokens, rate, burst, True)
        self._buckets[key_id] = (tokens, now)
        return _decide(tokens, rate, burst, False)


_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', key, math.ceil(burst / rate) + 5)
return {allowed, tostring(tokens)}
"""


class RedisLimiter:
    """The same bucket kept in Redis, updated atomically by a Lua script."""

    def __init__(self, url: str, multiplier: float) -> None:
        import redis.asyncio as redis

        self.multiplier = multiplier
        self._redis = redis.from_url(url)
        self._script = self._redis.register_script(_LUA)

    async def take(self, key_id: str, environment: str) -> Decision:
        rate, burst = DEFAULTS[environment]
        rate, burst = rate * self.multiplier, burst * self.multiplier
        allowed, tokens = await self._script(keys=[f"waycore:rl:{key_id}"], args=[rate, burst])
        return _decide(float(tokens), rate, burst, bool(int(allowed)))

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(multiplier: float | None, redis_url: str | None) -> Limiter | None:
    if multiplier is None:
        return None
    if redis_url:
        return RedisLimiter(redis_url, multiplier)
    return MemoryLimiter(multiplier)
