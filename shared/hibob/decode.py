"""Decode HiBob people answers into ``shared.hibob.model.Employee`` dicts, fast and strictly.

A 100,000-person search answer is ~85-90 MB of JSON. ``json.loads`` builds every object HiBob
sent (~0.7 GB); here msgspec decodes straight into small typed Structs that hold only the fields the
sync asked for, skipping everything else in C (figures in docs/hibob-client.md). The same Structs
validate types and formats, so a valid answer costs one C pass plus one short Python loop that
merges HiBob's two encodings and checks ids.

Rules (DESIGN.md, shared/hibob/model.py):

* Each field is read from the nested encoding (``{"work": {"startDate": ...}}``, root fields at top
  level) first, then from the slash encoding (``"/work/startDate": {"value": ...}``). The first
  non-null value wins; if one encoding holds an explicit null and the other nothing, the result is
  ``None``; if neither holds the field, the key is left out (HiBob hides fields the service user
  may not see by omitting them, so "missing" must stay distinguishable from "empty"). A slash
  value is only read, and so only validated, when the nested encoding lacks the field or is null.
* A nested category that is ``null`` (``"work": null``) counts as "holds nothing", not as a null
  for each of its fields: a null must be explicit to clear a stored value.
* ``root.id`` must be a non-empty JSON string and unique in the answer. A number is rejected, not
  coerced: identity decides who is removed from the store, so a change in how HiBob sends it is
  for a human to look at, not for us to guess.
* Dates are real calendar dates ``YYYY-MM-DD``, the birthday a real ``MM-DD`` (``02-29`` yes,
  ``02-30`` no); texts and statuses are strings; the department (a named-list item id) may be a string or an integer and is always
  returned as a string.

* A text may not carry U+0000, which PostgreSQL cannot store: a text loses it (a name with a stray
  NUL is still that name), an id that carries one is refused (identity is never guessed at).

Anything else raises ``InvalidData`` whose message names the employee (index and id) and the field,
never the offending value (it may be a birthday).
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from shared.hibob.errors import InvalidData
from shared.hibob.model import EMPLOYEE_FIELDS, Employee

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Every real month-day, 02-29 included: a Literal is a hash lookup in msgspec's C code, and exact.
_MONTH_DAYS = tuple(f"{month:02d}-{day:02d}" for month in range(1, 13)
                    for day in range(1, calendar.monthrange(2000, month)[1] + 1))


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Kind:
    """How one field is typed: the msgspec type, a Python check for error messages, and wording."""

    name: str
    type: Any
    check: Callable[[Any], bool]   # mirrors ``type`` for ``_explain``; None is checked apart
    expected: str


_ID = _Kind("id", Annotated[str, Meta(min_length=1)],
            lambda v: isinstance(v, str) and v != "", "a non-empty string")
_TEXT = _Kind("text", str | None, lambda v: isinstance(v, str), "a string or null")
# msgspec parses RFC 3339 dates in C, calendar-exact (no 2024-02-30); the merge turns them back
# into the model's "YYYY-MM-DD" strings.
_DATE = _Kind("date", date | None, _is_date, "a date YYYY-MM-DD or null")
_SHORT_DATE = _Kind("short_date", Literal[_MONTH_DAYS] | None,  # type: ignore[valid-type]
                    lambda v: v in _MONTH_DAYS, "a month-day MM-DD or null")
_LIST_ITEM = _Kind("list_item", str | int | None,
                   lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
                   "a named-list item id (string or integer) or null")

# Our model key -> kind; keys not listed are free text.
_KINDS: dict[str, _Kind] = {
    "external_id": _ID,
    "birthday": _SHORT_DATE,
    "start_date": _DATE,
    "termination_date": _DATE,
    "last_day_of_work": _DATE,
    "department_id": _LIST_ITEM,
}


@lru_cache(maxsize=None)
def _slash_decoder(kind: _Kind) -> msgspec.json.Decoder[Any]:
    """Decoder of a ``{"value": ...}`` wrapper; the value stays UNSET when the key is absent."""
    value_type = kind.type | None if kind is _ID else kind.type
    struct = msgspec.defstruct(f"Slash_{kind.name}", [("value", value_type | UnsetType, UNSET)])
    return msgspec.json.Decoder(struct | None)


@dataclass(frozen=True)
class _Field:
    key: str          # our model key
    field_id: str     # HiBob field id, e.g. "work.startDate"
    category: str     # "" for root fields at the top level
    name: str         # attribute name: the last jsonPath segment
    slash_attr: str   # attribute holding "/a/b"
    slash_key: str    # "/a/b"
    kind: _Kind


def _plan(field_ids: Sequence[str]) -> tuple[_Field, ...]:
    by_field_id = {field_id: (key, json_path)
                   for key, (field_id, json_path) in EMPLOYEE_FIELDS.items()}
    unknown = [f for f in field_ids if f not in by_field_id]
    if unknown:
        raise ValueError(f"unknown HiBob field ids {unknown}; known: {sorted(by_field_id)}")
    wanted = ["root.id", *[f for f in dict.fromkeys(field_ids) if f != "root.id"]]
    plan = []
    for field_id in wanted:
        key, json_path = by_field_id[field_id]
        category, _, name = json_path.rpartition(".")
        if "." in category or not all(p.isidentifier() for p in (name, category or "_")):
            # The merge is generated source reading ``raw.<category>.<name>``.
            raise ValueError(f"{field_id}: jsonPath {json_path!r} is not one or two identifiers")
        slash_key = "/" + field_id.replace(".", "/")
        plan.append(_Field(key, field_id, category, name, "s_" + slash_key[1:].replace("/", "_"),
                           slash_key, _KINDS.get(key, _TEXT)))
    return tuple(plan)


def _structs(plan: tuple[_Field, ...]) -> tuple[type, type]:
    """Build the msgspec Structs for one field list: (employee, search answer).

    Slash values are kept as ``msgspec.Raw`` (a view into the body, no parsing) and decoded only
    when the nested encoding lacks the field: HiBob normally sends both, and wrapping 13 values
    per person in objects we never read cost ~40% of the decode.
    """
    top: list[tuple[str, Any, Any]] = []
    categories: dict[str, list[tuple[str, Any, Any]]] = {}
    for field in plan:
        nested = (field.name, field.kind.type | UnsetType, UNSET)
        if field.category:
            categories.setdefault(field.category, []).append(nested)
        else:
            top.append(nested)
        top.append((field.slash_attr, msgspec.Raw | UnsetType,
                    msgspec.field(default=UNSET, name=field.slash_key)))
    for category, members in categories.items():
        struct = msgspec.defstruct(f"Category_{category}", members, gc=False)
        top.append((category, struct | None | UnsetType, UNSET))
    # gc=False: these Structs hold no cycles, and 100k GC-tracked objects make every collection
    # the merge loop triggers walk them all.
    employee = msgspec.defstruct("Employee", top, gc=False)
    search = msgspec.defstruct("Search", [("employees", list[employee])])
    return employee, search


@dataclass
class DecodedSearch:
    """What a people search answer held.

    Attributes:
        employees: one ``Employee`` dict per person, in HiBob's order.
        missing_counts: for each model key, how many employees lack it (HiBob hid it). Keys that
            every employee has are left out, so an empty dict means "everything visible".
    """

    employees: list[Employee]
    missing_counts: dict[str, int]


class PeopleDecoder:
    """Decoder for one list of HiBob field ids (``root.id`` is always added)."""

    def __init__(self, field_ids: Sequence[str]) -> None:
        self.plan = _plan(field_ids)
        self.field_ids = tuple(field.field_id for field in self.plan)
        employee, search = _structs(self.plan)
        self._search = msgspec.json.Decoder(search)
        self._person = msgspec.json.Decoder(employee)
        self.merge_source = _merge_source(self.plan)
        namespace = {"UNSET": UNSET, "slash_value": _slash_value, "FIELDS": self.plan}
        exec(compile(self.merge_source, f"<hibob merge {len(self.plan)} fields>", "exec"),
             namespace)
        self._merge_fields: Callable[[Any, int | None, dict[str, int]], Employee] = \
            namespace["merge"]

    def search(self, body: bytes | bytearray | memoryview) -> DecodedSearch:
        """Decode a ``POST /people/search`` answer ``{"employees": [...]}``.

        Raises:
            InvalidData: not JSON, wrong shape or types, a missing or duplicate id.
        """
        try:
            answer = self._search.decode(body)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
            raise InvalidData(self._explain(body, exc, single=False)) from None
        except msgspec.DecodeError as exc:
            raise InvalidData(f"HiBob's people search answer is not valid JSON ({exc})") from None
        scrub = may_hold_nul(body)
        employees: list[Employee] = []
        missing: dict[str, int] = {}
        seen: dict[str, int] = {}
        merge = self._merge
        raws = answer.employees
        del answer
        for index in range(len(raws)):
            # Drop each Struct once merged: their memory is reused for the dicts being built,
            # so the peak holds all the Structs or all the dicts, not both (-25% at 100k).
            raw, raws[index] = raws[index], None
            person = merge(raw, index, missing)
            if scrub:
                _strip_nul(person, index)
            external_id = person["external_id"]
            if seen.setdefault(external_id, index) != index:
                raise InvalidData(f"employees #{seen[external_id]} and #{index} of HiBob's people "
                                  f"search both have id {external_id!r}")
            employees.append(person)
        return DecodedSearch(employees, missing)

    def person(self, body: bytes | bytearray | memoryview) -> Employee:
        """Decode a ``POST /people/{id}`` answer (one employee object, not wrapped).

        Raises:
            InvalidData: not JSON, wrong shape or types, a missing id.
        """
        try:
            raw = self._person.decode(body)
        except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
            raise InvalidData(self._explain(body, exc, single=True)) from None
        except msgspec.DecodeError as exc:
            raise InvalidData(f"HiBob's employee answer is not valid JSON ({exc})") from None
        person = self._merge(raw, None, {})
        if may_hold_nul(body):
            _strip_nul(person, None)
        return person

    def _merge(self, raw: Any, index: int | None, missing: dict[str, int]) -> Employee:
        person = self._merge_fields(raw, index, missing)
        if person.get("external_id") is None:
            raise InvalidData(f"{_where(index, None)} has no id "
                              "(neither 'id' nor '/root/id' holds a string)")
        return person

    def _explain(self, body: bytes | bytearray | memoryview,
                 error: msgspec.ValidationError, *, single: bool) -> str:
        """Re-read a rejected answer loosely to name the employee and field at fault.

        Only runs on failure, so it may be slow; falls back to msgspec's own wording (with any
        quoted value blanked, as it may be a birthday).
        """
        what = "HiBob's employee answer" if single else "HiBob's people search answer"
        fallback = f"{what} is malformed: " + re.sub(r"'[^']*'", "'…'", str(error))
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return fallback
        if single:
            return _explain_employee(self.plan, data, None) or fallback
        if not isinstance(data, dict) or not isinstance(data.get("employees"), list):
            return f"{what} is not an object with an 'employees' list"
        for index, item in enumerate(data["employees"]):
            problem = _explain_employee(self.plan, item, index)
            if problem:
                return problem
        return fallback


def may_hold_nul(body: bytes | bytearray | memoryview) -> bool:
    """Whether a JSON body may hold U+0000 somewhere.

    JSON can only spell it ``\\u0000`` (a raw NUL byte is not valid JSON), and most answers hold
    no backslash at all: one ``memchr`` pass, 5 ms for a 100,000-person answer, where looking for
    the whole escape costs 45 ms.
    """
    data = bytes(body) if isinstance(body, memoryview) else body
    return b"\\" in data and b"\\u0000" in data


def _strip_nul(person: Employee, index: int | None) -> None:
    """Drop U+0000 from the person's texts (PostgreSQL cannot store it); refuse it in the id."""
    for key, value in person.items():
        if type(value) is str and "\x00" in value:
            if key == "external_id":
                raise InvalidData(f"{_where(index, None)}: field root.id holds a NUL character")
            person[key] = value.replace("\x00", "")  # type: ignore[literal-required]


def _merge_source(plan: tuple[_Field, ...]) -> str:
    """Python source of the per-employee merge, unrolled for one field list.

    This is the hot loop of a 100k search. A generic loop over the fields spends most of its time
    on the loop itself; unrolling it (the way ``dataclasses`` generates ``__init__``) halves the
    merge (0.54 s -> 0.30 s per 100k people, see docs/hibob-client.md). The rules it applies are
    the module docstring's; ``merge_source`` is kept on the decoder for reading.
    """
    lines = ["def merge(raw, index, missing):", "    person = {}"]
    containers: dict[str, str] = {}
    for number, field in enumerate(plan):
        if field.category and field.category not in containers:
            name = containers[field.category] = f"c{len(containers)}"
            # A null category holds nothing: it is not a null for each of its fields.
            lines.append(f"    {name} = raw.{field.category}")
            lines.append(f"    if {name} is None: {name} = UNSET")
        if field.category:
            name = containers[field.category]
            lines.append(f"    v = UNSET if {name} is UNSET else {name}.{field.name}")
        else:
            lines.append(f"    v = raw.{field.name}")
        lines += [
            "    if v is UNSET or v is None:",
            f"        s = raw.{field.slash_attr}",
            f"        if s is not UNSET: v = slash_value(s, v, FIELDS[{number}], index, person)",
            "        if v is UNSET:",
            f"            missing[{field.key!r}] = missing.get({field.key!r}, 0) + 1",
        ]
        if field.kind is _DATE:
            lines.append(f"    if v is not UNSET: person[{field.key!r}] = "
                         "None if v is None else v.isoformat()")
        elif field.kind is _LIST_ITEM:  # an item id sent as a number becomes a string
            lines.append(f"    if v is not UNSET: person[{field.key!r}] = "
                         "str(v) if type(v) is int else v")
        else:
            lines.append(f"    if v is not UNSET: person[{field.key!r}] = v")
    lines.append("    return person")
    return "\n".join(lines) + "\n"


def _slash_value(slash: msgspec.Raw, nested: Any, field: _Field, index: int | None,
                 person: Employee) -> Any:
    """Read ``"/a/b": {"value": ...}`` when the nested encoding had nothing or null."""
    try:
        wrapper = _slash_decoder(field.kind).decode(slash)
    except msgspec.ValidationError:
        raise InvalidData(f"{_where(index, person.get('external_id'))}: field {field.field_id} "
                          f"('{field.slash_key}') is not {{\"value\": {field.kind.expected}}}"
                          ) from None
    if wrapper is None:
        return None
    # A non-null slash value beats a nested null; a slash null only counts if nested had nothing.
    if wrapper.value is UNSET or (wrapper.value is None and nested is None):
        return nested
    return wrapper.value


def _where(index: int | None, external_id: str | None) -> str:
    where = "HiBob's employee answer" if index is None else f"employee #{index}"
    return f"{where} (id {external_id!r})" if external_id else where


def _explain_employee(plan: tuple[_Field, ...], item: Any, index: int | None) -> str | None:
    """Mirror of the typed decode's checks on the nested encoding, in words."""
    if not isinstance(item, dict):
        return f"{_where(index, None)} is {_describe(item)}, not an object"
    external_id = item.get("id")
    if not isinstance(external_id, str):
        slash = item.get("/root/id")
        external_id = slash.get("value") if isinstance(slash, dict) else None
    where = _where(index, external_id if isinstance(external_id, str) else None)
    for field in plan:
        holder = item.get(field.category) if field.category else item
        if holder is None:
            continue
        if not isinstance(holder, dict):
            return f"{where}: '{field.category}' is {_describe(holder)}, not an object"
        if field.name not in holder:
            continue
        value = holder[field.name]
        if (value is None and field.kind is _ID) or \
                (value is not None and not field.kind.check(value)):
            return (f"{where}: field {field.field_id} is {_describe(value)}, "
                    f"expected {field.kind.expected}")
    return None


def _describe(value: Any) -> str:
    """Name a JSON value's type without echoing it (it may be a birthday)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if value == "" else f"a string of {len(value)} characters"
    if isinstance(value, list):
        return "a list"
    return "an object"


@lru_cache(maxsize=16)
def _decoder(field_ids: tuple[str, ...]) -> PeopleDecoder:
    return PeopleDecoder(field_ids)


def decoder_for(field_ids: Sequence[str]) -> PeopleDecoder:
    """The (cached) decoder for a field list; building the Structs takes ~1 ms.

    Raises:
        ValueError: a field id ``shared.hibob.model.EMPLOYEE_FIELDS`` does not know.
    """
    return _decoder(tuple(field_ids))
