"""Keep every worker's HiBob calls inside HiBob's limits, with one budget in Redis.

Two budgets, each checked and taken in one Lua script so that any number of workers on any number
of machines see the same count:

* **Per service user and endpoint**: a sliding one-minute window (a sorted set of call times).
  HiBob allows 50 people searches a minute per service user (reference §5); we aim for 45 so a
  second of clock skew between machines or a call HiBob counts twice cannot tip us over. Other
  endpoints' limits are not published; they get the same conservative default. A 429 from HiBob
  also blocks that bucket until the reset it announced, for every worker.
* **Deployment-wide auth breaker**: HiBob's WAF blocks the calling IP for five minutes after 50
  answers of 401 in 10 s (and a header after 50 of 401 or 403). One bad token must not take every
  integration down, so at most 20 such answers may happen in any 10 s. The budget is reserved
  *before* a call goes out (any call can come back 401/403): a permit holds one slot while the
  call is in flight, turns into a counted failure if the answer is 401/403, and is dropped
  otherwise. So even 100 simultaneous calls with revoked tokens cannot exceed 20. The price is
  that at most 20 HiBob calls are in flight deployment-wide; calls hold their slot only until
  the status line arrives (not while the body downloads).

Keys hold a hash of the service user id, never the token. Times come from ``clock`` (all machines
must be NTP-synchronised: skew shifts window edges by that much). If Redis is unreachable the
redis error propagates: without Redis no job runs anyway, and calling HiBob unpaced is worse.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.hibob.errors import AuthFailureBudgetSpent, RateLimited

SEARCH = "people.search"

_PREFIX = "peoplesync:hibob:"
_WINDOW = 60.0
_AUTH_WINDOW = 10.0
_POLL = 0.2  # how often to look again while every breaker slot is held by calls in flight

# KEYS: window zset, blocked-until string, auth failures zset, in-flight zset.
# ARGV: now, limit, auth limit, permit id, in-flight expiry.
# Returns {1} when admitted, else {0, reason, seconds to wait as a string} (Lua numbers come
# back from Redis as integers, hence the string).
_ACQUIRE = f"""
local now = tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return {{0, 'blocked', tostring(blocked - now)}}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - {_AUTH_WINDOW})
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then
  local wait = {_POLL}
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if oldest[2] and redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then
    wait = tonumber(oldest[2]) + {_AUTH_WINDOW} - now
  end
  return {{0, 'auth', tostring(wait)}}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - {_WINDOW})
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {{0, 'rate', tostring(tonumber(oldest[2]) + {_WINDOW} - now)}}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], {int(_WINDOW) + 5})
redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), ARGV[4])
redis.call('EXPIRE', KEYS[4], 3600)
return {{1}}
"""

# KEYS: in-flight zset, auth failures zset. ARGV: permit id, now.
_AUTH_FAILURE = f"""
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[2], {int(_AUTH_WINDOW) + 5})
return 1
"""


@dataclass(frozen=True)
class Permit:
    """The right to make one HiBob call; settle it with ``release`` or ``record_auth_failure``."""

    id: str
    endpoint: str


class Pacer(Protocol):
    """What ``HiBobClient`` needs from a pacer (``RedisPacer``, or a test double)."""

    def acquire(self, service_user_id: str, endpoint: str, *,
                hold_seconds: float = 60.0) -> Permit: ...

    def release(self, permit: Permit) -> None: ...

    def record_auth_failure(self, permit: Permit | None = None) -> None: ...

    def note_rate_limited(self, service_user_id: str, endpoint: str, reset_at: float) -> None: ...


class RedisPacer:
    """Shared HiBob call budget in Redis (see the module docstring).

    Args:
        redis_client: a ``redis.Redis`` (or fakeredis) connection; Lua scripting is required.
        search_per_minute: people searches allowed per service user per rolling minute.
        other_per_minute: calls per minute per service user to each other endpoint.
        auth_failures_per_10s: 401/403 answers allowed deployment-wide in any 10 seconds.
        max_wait: the longest ``acquire`` waits for a slot before raising.
        clock: epoch seconds (injectable for tests).
        sleep: how to wait (injectable for tests).
        prefix: Redis key prefix.
    """

    def __init__(self, redis_client: Any, *, search_per_minute: int = 45,
                 other_per_minute: int = 45, auth_failures_per_10s: int = 20,
                 max_wait: float = 65.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, prefix: str = _PREFIX) -> None:
        self.redis = redis_client
        self.search_per_minute = search_per_minute
        self.other_per_minute = other_per_minute
        self.auth_failures_per_10s = auth_failures_per_10s
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self.prefix = prefix
        self._acquire = redis_client.register_script(_ACQUIRE)
        self._auth_failure = redis_client.register_script(_AUTH_FAILURE)

    def acquire(self, service_user_id: str, endpoint: str, *,
                hold_seconds: float = 60.0) -> Permit:
        """Wait (at most ``max_wait``) until a call to ``endpoint`` may go out, and take the slot.

        Args:
            service_user_id: whose per-minute budget to draw from (hashed in the key).
            endpoint: ``SEARCH`` or another endpoint name; each has its own window.
            hold_seconds: how long the call may hold its breaker slot if never settled (a worker
                that dies mid-call must not leak it); at least the call's timeout.

        Raises:
            RateLimited: the per-minute budget (or HiBob's announced reset) is further away
                than ``max_wait``; ``reset_at`` says when to try again.
            AuthFailureBudgetSpent: the deployment-wide 401/403 budget stays spent too long.
        """
        limit = self.search_per_minute if endpoint == SEARCH else self.other_per_minute
        subject = self._subject(service_user_id, endpoint)
        keys = [f"{self.prefix}window:{subject}", f"{self.prefix}blocked:{subject}",
                f"{self.prefix}auth-failures", f"{self.prefix}in-flight"]
        permit = Permit(uuid.uuid4().hex, endpoint)
        started = self.clock()
        while True:
            now = self.clock()
            answer = self._acquire(keys=keys, args=[repr(now), limit, self.auth_failures_per_10s,
                                                    permit.id, repr(now + hold_seconds)])
            if int(answer[0]) == 1:
                return permit
            reason = _text(answer[1])
            wait = max(float(_text(answer[2])), 0.001)
            if now + wait - started > self.max_wait:
                raise self._refusal(reason, endpoint, now + wait)
            self.sleep(wait)

    def release(self, permit: Permit) -> None:
        """The call answered something other than 401/403 (or never got an answer)."""
        self.redis.zrem(f"{self.prefix}in-flight", permit.id)

    def record_auth_failure(self, permit: Permit | None = None) -> None:
        """Count a 401/403 answer against the deployment-wide breaker (settles ``permit``)."""
        member = permit.id if permit else uuid.uuid4().hex
        self._auth_failure(keys=[f"{self.prefix}in-flight", f"{self.prefix}auth-failures"],
                           args=[member, repr(self.clock())])

    def note_rate_limited(self, service_user_id: str, endpoint: str, reset_at: float) -> None:
        """HiBob answered 429: hold every worker's calls to this bucket until ``reset_at``."""
        ttl = int(reset_at - self.clock()) + 2
        if ttl > 0:
            self.redis.set(f"{self.prefix}blocked:{self._subject(service_user_id, endpoint)}",
                           repr(reset_at), ex=ttl)

    def _subject(self, service_user_id: str, endpoint: str) -> str:
        digest = hashlib.sha256(service_user_id.encode("utf-8")).hexdigest()[:24]
        return f"{digest}:{endpoint}"

    def _refusal(self, reason: str, endpoint: str, reset_at: float) -> RateLimited:
        if reason == "auth":
            return AuthFailureBudgetSpent(
                f"HiBob call to {endpoint} held back: more than {self.auth_failures_per_10s} "
                "rejected credentials (401/403) across peoplesync in the last 10 s, and HiBob "
                "blocks our IP at 50; try again shortly", reset_at=reset_at)
        if reason == "blocked":
            return RateLimited(f"HiBob rate-limited {endpoint} for this service user until "
                               f"{reset_at:.0f} (epoch s)", reset_at=reset_at)
        return RateLimited(f"this service user's budget for {endpoint} "
                           f"({self._limit(endpoint)}/min) is spent for longer than "
                           f"{self.max_wait:.0f} s", reset_at=reset_at)

    def _limit(self, endpoint: str) -> int:
        return self.search_per_minute if endpoint == SEARCH else self.other_per_minute


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
