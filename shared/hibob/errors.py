"""Typed failures of the HiBob client.

Every error carries a stable ``code`` the sync turns into an integration state reason
(DESIGN.md: ``auth_failed``, ``permission_missing``, ``hibob_unavailable``, ``rate_limited``,
``invalid_data``) plus ``person_gone`` for a one-person read of someone HiBob no longer has.
Messages are written for the store admin and the on-call engineer; they never contain the token,
the ``Authorization`` header or a person's field values beyond their HiBob id.

The errors pickle with their attributes intact, because RQ stores a failed job's exception.
"""
from __future__ import annotations

from typing import Any


class HiBobError(Exception):
    """Base class: something went wrong talking to HiBob.

    Attributes:
        code: stable machine-readable reason, one per subclass.
        status: the HTTP status HiBob answered, or ``None`` when there was no answer.
    """

    code = "hibob_error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's default pickling replays only ``args``; keep the keyword attributes too.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[HiBobError], message: str, state: dict[str, Any]) -> HiBobError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthFailed(HiBobError):
    """401: HiBob rejected the service user's ID or token (wrong, revoked or disabled)."""

    code = "auth_failed"


class PermissionMissing(HiBobError):
    """403: the service user is authenticated but its permission group does not allow the call."""

    code = "permission_missing"


class RateLimited(HiBobError):
    """429 (or our own pacing) and waiting for the reset would take too long.

    Attributes:
        reset_at: epoch seconds after which a new attempt should succeed, or ``None`` when HiBob
            did not say. The job scheduler reschedules the work for then.
    """

    code = "rate_limited"

    def __init__(self, message: str, *, reset_at: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.reset_at = reset_at


class AuthFailureBudgetSpent(RateLimited):
    """Our own breaker: too many 401/403 answers deployment-wide in the last 10 seconds.

    HiBob's WAF blocks the calling IP after 50 such answers in 10 s, which would take every
    integration down for five minutes. This one's credentials may be fine, so it is reported as
    ``rate_limited`` (try again at ``reset_at``), not as an authentication failure.
    """


class HiBobUnavailable(HiBobError):
    """5xx, a timeout, a refused connection, or an answer status we do not expect, after retries."""

    code = "hibob_unavailable"


class InvalidData(HiBobError):
    """HiBob answered 200 with something we cannot use: not JSON, or malformed people data.

    The message names the problem precisely (employee index and id, field, what was wrong).
    """

    code = "invalid_data"


class PersonGone(HiBobError):
    """404 on a one-person read: HiBob no longer has that employee (deleted) or never had it.

    Attributes:
        employee_id: the HiBob id that was asked for.
    """

    code = "person_gone"

    def __init__(self, message: str, *, employee_id: str, status: int | None = 404) -> None:
        super().__init__(message, status=status)
        self.employee_id = employee_id
