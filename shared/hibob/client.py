"""HiBob API client: the only code in peoplesync that speaks HiBob's HTTP.

Facts it relies on are in the research notes (hibob-api.md): service-user Basic auth (§1), one
un-paginated ``POST /people/search`` (§2.1), silent omission of hidden fields (§2.3), HTML answers
with status 200 on unknown paths (§1), 50 searches/min and ``X-RateLimit-Reset`` (§5), and the WAF
that blocks an IP after 50 401s in 10 s (§1). How each failure is reported: ``shared.hibob.errors``.

A client lives for one job run: it caches named lists and owns its ``requests`` session.
"""
from __future__ import annotations

import base64
import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgspec
import requests

from shared.hibob.decode import decoder_for
from shared.hibob.errors import (AuthFailed, HiBobUnavailable, InvalidData, PermissionMissing,
                                 PersonGone, RateLimited)
from shared.hibob.model import SYNC_FIELD_IDS, Employee
from shared.hibob.pacing import SEARCH, Pacer, Permit

log = logging.getLogger("peoplesync.hibob")

PERSON = "people.read"
FIELDS = "company.fields"
NAMED_LIST = "company.named-list"

_BACKOFF_BASE = 0.5   # seconds before the first retry (before jitter)
_BACKOFF_CAP = 8.0
_ERROR_BODY_BYTES = 64 * 1024  # enough for HiBob's {"key", "error"}; a 5xx page may be huge


@dataclass
class SearchResult:
    """One people search.

    Attributes:
        employees: decoded people (``shared.hibob.model``), in HiBob's order.
        byte_size: size of the (decompressed) JSON answer, for metrics and capacity planning.
        field_ids: the HiBob field ids that were asked for.
        missing_counts: per model key, how many people lacked it (hidden from the service user).
    """

    employees: list[Employee]
    byte_size: int
    field_ids: tuple[str, ...]
    missing_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Answer:
    status: int
    headers: Any  # requests' case-insensitive dict
    body: bytearray


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class HiBobClient:
    """Talks to HiBob as one service user.

    Args:
        base_url: e.g. ``https://api.hibob.com/v1`` (``HIBOB_API_URL``).
        service_user_id: the service user's ID (Basic-auth user name).
        token: its token (Basic-auth password); never logged nor put in a message.
        pacer: a shared budget (``RedisPacer``); ``None`` calls without pacing.
        timeout: (connect, read) seconds for every request; the read timeout applies between
            bytes, so the body download is also bounded by ``body_deadline`` in total.
        max_retries: retries after a 5xx, timeout or connection error (and 429 waits).
        session: a ``requests.Session`` to use; one is created (and closed by ``close``) if not.
        sleep: how to wait between retries (injectable for tests).
        clock: epoch seconds, to turn ``X-RateLimit-Reset`` into a wait.
        max_rate_limit_wait: the longest wait for a 429's reset before raising ``RateLimited``.
    """

    max_body_bytes = 1 << 30    # 1 GiB: ~1.1 million people; beyond that something is wrong
    body_deadline = 300.0       # seconds for a whole answer body to arrive

    def __init__(self, base_url: str, service_user_id: str, token: str, *,
                 pacer: Pacer | None = None, timeout: tuple[float, float] = (3.05, 30),
                 max_retries: int = 3, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time,
                 max_rate_limit_wait: float = 65.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.service_user_id = service_user_id
        self.pacer = pacer
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.clock = clock
        self.max_rate_limit_wait = max_rate_limit_wait
        self._owns_session = session is None
        self.session = session or requests.Session()
        credentials = base64.b64encode(f"{service_user_id}:{token}".encode()).decode()
        self._authorization = f"Basic {credentials}"
        self._secrets = [s for s in (token, credentials) if s]
        self._named_lists: dict[str, dict[str, str]] = {}

    def __repr__(self) -> str:  # never show the token
        return f"HiBobClient({self.base_url!r}, {self.service_user_id!r})"

    def __enter__(self) -> HiBobClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    # --- the calls ---------------------------------------------------------------------------

    def search_people(self, fields: Sequence[str] = SYNC_FIELD_IDS) -> SearchResult:
        """Everyone the service user may see, terminated and future joiners included.

        Machine values only (no ``humanReadable``: its dates follow the caller's locale).

        Raises:
            AuthFailed, PermissionMissing, RateLimited, HiBobUnavailable, InvalidData.
            ValueError: ``fields`` holds an id ``shared.hibob.model`` does not know.
        """
        decoder = decoder_for(fields)
        body = self._call("POST", "/people/search", SEARCH, what="the people search",
                          json={"fields": list(decoder.field_ids), "showInactive": True})
        decoded = decoder.search(body)
        return SearchResult(decoded.employees, len(body), decoder.field_ids,
                            decoded.missing_counts)

    def read_person(self, employee_id: str, fields: Sequence[str] = SYNC_FIELD_IDS) -> Employee:
        """One employee by HiBob id (e.g. after a webhook).

        Raises:
            PersonGone: HiBob answered 404 (deleted, or not an id it knows).
            AuthFailed, PermissionMissing, RateLimited, HiBobUnavailable, InvalidData.
        """
        if not isinstance(employee_id, str) or not employee_id:
            raise ValueError("employee_id must be a non-empty string")
        decoder = decoder_for(fields)
        body = self._call("POST", f"/people/{quote(employee_id, safe='')}", PERSON,
                          what=f"employee {employee_id}", json={"fields": list(decoder.field_ids)},
                          gone_id=employee_id)
        person = decoder.person(body)
        if person["external_id"] != employee_id:
            raise InvalidData(f"HiBob answered a read of employee {employee_id!r} with employee "
                              f"{person['external_id']!r}")
        return person

    def people_fields(self) -> list[dict[str, Any]]:
        """Field metadata (``GET /company/people/fields``): id, name, categoryId, jsonPath, type...

        Raises:
            AuthFailed, PermissionMissing, RateLimited, HiBobUnavailable, InvalidData.
        """
        data = self._json(self._call("GET", "/company/people/fields", FIELDS,
                                     what="the people fields metadata"), "people fields metadata")
        if not isinstance(data, list):
            raise InvalidData("HiBob's people fields metadata is not a list")
        for index, item in enumerate(data):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise InvalidData(f"HiBob's people fields metadata: entry #{index} has no "
                                  "string id")
        return data

    def named_list(self, name: str) -> dict[str, str]:
        """Item id -> label of a named list (e.g. ``department``), nested items flattened.

        Archived items are included: people may still point at them. Cached for this client.

        Raises:
            AuthFailed, PermissionMissing, RateLimited, HiBobUnavailable, InvalidData.
        """
        if name not in self._named_lists:
            body = self._call("GET", f"/company/named-lists/{quote(name, safe='')}", NAMED_LIST,
                              what=f"the named list {name!r}", params={"includeArchived": "true"})
            self._named_lists[name] = _flatten_named_list(
                name, self._json(body, f"named list {name!r}"))
        return dict(self._named_lists[name])

    # --- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, endpoint: str, *, what: str, json: Any = None,
              params: dict[str, str] | None = None, gone_id: str | None = None) -> bytearray:
        """One logical call: pacing, retries, and the mapping of answers to typed errors."""
        retries = rate_limit_waits = 0
        while True:
            try:
                answer = self._attempt(method, path, endpoint, json, params)
                if answer.status >= 500:
                    raise _Retry(f"HiBob answered {answer.status}{self._hibob_said(answer)}",
                                 answer.status)
            except _Retry as failure:
                # 5xx, timeouts and broken connections are usually brief: a few spaced retries.
                retries += 1
                if retries > self.max_retries:
                    raise HiBobUnavailable(
                        f"HiBob failed {what} {retries} times; last: {failure.reason}",
                        status=failure.status) from None
                delay = _backoff(retries)
                log.warning("HiBob %s %s failed (%s); retry %d/%d in %.1f s", method, endpoint,
                            failure.reason, retries, self.max_retries, delay)
                self.sleep(delay)
                continue
            status = answer.status
            if 200 <= status < 300:
                _require_json(answer, what)
                return answer.body
            said = self._hibob_said(answer)
            if status == 401:
                # Never retried: HiBob's WAF blocks the IP after 50 of these in 10 s.
                raise AuthFailed(f"HiBob rejected the service user's credentials (401) for "
                                 f"{what}: check the service user ID and token{said}", status=401)
            if status == 403:
                raise PermissionMissing(f"HiBob refused {what} (403): the service user's "
                                        f"permission group does not allow it{said}", status=403)
            if status == 404 and gone_id is not None:
                raise PersonGone(f"HiBob has no employee {gone_id!r} (404)", employee_id=gone_id)
            if status == 429:
                rate_limit_waits += 1
                reset_at = self._reset_at(answer.headers, rate_limit_waits)
                if self.pacer is not None:
                    self.pacer.note_rate_limited(self.service_user_id, endpoint, reset_at)
                wait = reset_at - self.clock()
                if wait > self.max_rate_limit_wait or rate_limit_waits > self.max_retries:
                    raise RateLimited(f"HiBob rate-limited {what} (429) until {reset_at:.0f} "
                                      f"(epoch s){said}", reset_at=reset_at, status=429)
                log.warning("HiBob %s %s rate-limited (429); waiting %.1f s for the reset",
                            method, endpoint, max(wait, 0.0))
                self.sleep(max(wait, 0.0) + random.uniform(0.05, 0.5))
                continue
            # 400, 404 on a list, 405...: our request or HiBob's contract is wrong; retrying
            # the same request cannot help.
            raise HiBobUnavailable(f"HiBob answered {status} to {what}{said}", status=status)

    def _attempt(self, method: str, path: str, endpoint: str, json: Any,
                 params: dict[str, str] | None) -> _Answer:
        permit: Permit | None = None
        if self.pacer is not None:
            permit = self.pacer.acquire(self.service_user_id, endpoint,
                                        hold_seconds=sum(self.timeout) + 5)
        response: requests.Response | None = None
        try:
            headers = {"Authorization": self._authorization, "Accept": "application/json"}
            response = self.session.request(method, self.base_url + path, json=json,
                                            params=params, headers=headers,
                                            timeout=self.timeout, stream=True)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise HiBobUnavailable(f"the HiBob API URL {self.base_url!r} is not usable: "
                                   f"{self._redact(str(exc))}") from None
        except requests.RequestException as exc:
            raise _Retry(self._describe_failure(exc)) from None
        finally:
            # Settle the breaker slot as soon as the status line is known, not after the body.
            if permit is not None and self.pacer is not None:
                if response is not None and response.status_code in (401, 403):
                    self.pacer.record_auth_failure(permit)
                else:
                    self.pacer.release(permit)
        with response:
            status = response.status_code
            limit = self.max_body_bytes if 200 <= status < 300 else _ERROR_BODY_BYTES
            try:
                body = self._read_body(response, limit, cut_off=not 200 <= status < 300)
            except requests.RequestException as exc:
                raise _Retry(self._describe_failure(exc), status) from None
        return _Answer(status, response.headers, body)

    def _read_body(self, response: requests.Response, limit: int, *, cut_off: bool) -> bytearray:
        # One growing buffer (msgspec decodes straight from it): no list of chunks joined into a
        # second copy. bytearray growth reallocates in place for large blocks on Linux.
        body = bytearray()
        deadline = time.monotonic() + self.body_deadline
        for chunk in response.iter_content(chunk_size=1 << 20):
            body += chunk
            if len(body) > limit:
                if cut_off:  # an error page: its start is all we want
                    return body[:limit]
                raise InvalidData(f"HiBob's answer is larger than {limit} bytes; refusing it")
            if time.monotonic() > deadline:
                raise _Retry(f"the answer took longer than {self.body_deadline:.0f} s to arrive")
        return body

    def _reset_at(self, headers: Any, attempt: int) -> float:
        """When a 429 ends: ``X-RateLimit-Reset`` (epoch s), else ``Retry-After``, else backoff.

        Always within the next hour: HiBob's windows last a minute, and an absurd value (``inf``,
        a year 5000 instant) must neither crash the pacer and the job nor park an integration.
        """
        now = self.clock()
        reset = headers.get("X-RateLimit-Reset")
        try:
            value = float(reset)
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value):
            # Documented (by third parties) as epoch seconds; a small number can only be a delay.
            return _within_the_hour(value if value > 1e9 else now + value, now)
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return _within_the_hour(now + float(retry_after), now)
            except ValueError:
                pass
            try:
                return _within_the_hour(email.utils.parsedate_to_datetime(retry_after).timestamp(), now)
            except (TypeError, ValueError, OverflowError):
                pass
        return now + _backoff(attempt)

    def _json(self, body: bytearray, what: str) -> Any:
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            raise InvalidData(f"HiBob's {what} is not valid JSON ({exc})") from None

    def _hibob_said(self, answer: _Answer) -> str:
        """HiBob's own error text ({"key", "error"}) for a message; nothing from an HTML page."""
        try:
            data = msgspec.json.decode(answer.body)
        except msgspec.DecodeError:
            return ""
        text = data.get("error") if isinstance(data, dict) else None
        return f"; HiBob said: {self._redact(text[:200])}" if isinstance(text, str) else ""

    def _describe_failure(self, exc: requests.RequestException) -> str:
        kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
        return f"{kind} ({type(exc).__name__}: {self._redact(str(exc))[:300]})"

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _require_json(answer: _Answer, what: str) -> None:
    # HiBob answers some wrong paths with its web app's HTML and a 200 (reference §1).
    content_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise InvalidData(f"HiBob answered {what} with {content_type}, not JSON (status "
                          f"{answer.status}): the API URL or path is probably wrong")


def _within_the_hour(reset: float, now: float) -> float:
    if not math.isfinite(reset):
        raise ValueError("not an instant")
    return min(max(reset, now), now + 3600.0)


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: half fixed, half random, so retries spread out."""
    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _flatten_named_list(name: str, data: Any) -> dict[str, str]:
    """``{"items": [{"id", "name"|"value", "children": [...]}]}`` -> {item id: label}."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidData(f"HiBob's named list {name!r} has no 'items' list")
    labels: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [(f"items[{i}]", item) for i, item in enumerate(items)][::-1]
    while stack:  # iterative: a deep hierarchy must not hit the recursion limit
        where, item = stack.pop()
        if not isinstance(item, dict):
            raise InvalidData(f"HiBob's named list {name!r}: {where} is not an object")
        item_id, label = item.get("id"), item.get("name", item.get("value"))
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or item_id == "":
            raise InvalidData(f"HiBob's named list {name!r}: {where} has no string id")
        if not isinstance(label, str):
            raise InvalidData(f"HiBob's named list {name!r}: item {item_id!s} has no label")
        # U+0000 dropped as from people's texts (shared/hibob/decode.py), ids alike, so that
        # a person's department id still finds its item.
        item_key = str(item_id).replace("\x00", "")
        if item_key in labels:
            raise InvalidData(f"HiBob's named list {name!r}: item id {item_id!s} appears twice")
        labels[item_key] = label.replace("\x00", "")
        children = item.get("children") or []
        if not isinstance(children, list):
            raise InvalidData(f"HiBob's named list {name!r}: item {item_id!s} has bad children")
        stack.extend((f"{where}.children[{i}]", child) for i, child in enumerate(children))
    return labels

