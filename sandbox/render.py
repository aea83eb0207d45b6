"""Turning people into HiBob's answer bytes, fast enough for a 100,000-person company.

Each employee object carries both encodings HiBob sends (reference §2.2): nested JSON by jsonPath
(root fields at the top level) with explicit nulls for permitted-but-empty fields, and slash keys
``"/work/startDate": {"value": ...}`` only for non-null values. Fields the caller may not see, or
that do not exist, are absent from both.

Speed comes from two caches. Each person's object is rendered once per (field set, mode, day,
list labels) and kept as bytes tagged with the person's revision, so after one change only that
person is re-rendered. Whole search answers are kept per (scope, request body, directory version,
day), so an unchanged company is served straight from memory.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from datetime import date
from typing import Any, Callable, Iterable

import orjson

from sandbox.fields import FIELDS_BY_ID, FieldDef, human_value
from sandbox.people import Person
from shared.memory import collector_paused

HUMAN_READABLE_MODES = ("", "APPEND", "REPLACE")


@dataclass(frozen=True)
class ReadSpec:
    """What one request asks for, reduced to what this caller may see."""

    fields: tuple[FieldDef, ...]
    mode: str  # "", "APPEND" or "REPLACE"

    @cached_property
    def plan(self) -> tuple[tuple[Any, ...], ...]:
        # Per field, everything render_person needs, computed once per spec instead of once
        # per person: at 100k people the property lookups alone cost a second.
        return tuple((f.id, f.derive, f.slash_key, f.path[0],
                      f.path[1] if len(f.path) == 2 else None,
                      f.path if len(f.path) > 2 else None, f) for f in self.fields)


def compile_spec(field_ids: Iterable[str], categories: frozenset[str], mode: str) -> ReadSpec:
    seen: dict[str, FieldDef] = {}
    for field_id in field_ids:
        fdef = FIELDS_BY_ID.get(field_id)
        # Unknown ids and ids in categories the caller lacks are dropped without a word.
        if fdef is not None and fdef.category in categories and field_id not in seen:
            seen[field_id] = fdef
    return ReadSpec(tuple(seen.values()), mode or "")


class Labels:
    """Resolves list item ids and employee ids to what HiBob shows a human."""

    def __init__(self, lists: dict[str, list[dict[str, Any]]],
                 person_name: Callable[[str], str | None]) -> None:
        self._by_list = {name: {item["id"]: item["name"] for item in items}
                         for name, items in lists.items()}
        self.person_name = person_name

    def label(self, list_id: str, item_id: str) -> str | None:
        return self._by_list.get(list_id, {}).get(item_id)


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def render_person(person: Person, spec: ReadSpec, today: date, labels: Labels) -> dict[str, Any]:
    values = person.values
    slash: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    human: dict[str, Any] | None = {} if spec.mode == "APPEND" else None
    for field_id, derive, slash_key, head, leaf, deep, fdef in spec.plan:
        value = derive(values, today) if derive else values.get(field_id)
        if value is not None:
            if spec.mode:
                shown = human_value(fdef, value, labels.label, labels.person_name)
                if human is not None:
                    _put(human, fdef.path, shown)
                else:
                    value = shown  # REPLACE: labels stand in for machine values everywhere [U]
            slash[slash_key] = {"value": value}
        if leaf is not None:
            section = nested.get(head)
            if section is None:
                section = nested[head] = {}
            section[leaf] = value
        elif deep is not None:
            _put(nested, deep, value)
        else:
            nested[head] = value
    slash.update(nested)
    if human:
        slash["humanReadable"] = human
    return slash


def render_one(person: Person, spec: ReadSpec, today: date, labels: Labels) -> bytes:
    return orjson.dumps(render_person(person, spec, today, labels))


class RenderCache:
    """Per-person fragments and whole search answers, both as ready-to-send bytes."""

    def __init__(self, max_specs: int = 4, max_answers: int = 4) -> None:
        self._fragments: OrderedDict[tuple[Any, ...], dict[str, tuple[int, bytes]]] = OrderedDict()
        self._answers: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._max_specs, self._max_answers = max_specs, max_answers
        # One renderer at a time: a second caller waits, then finds the answer cached.
        self.lock = threading.Lock()

    def answer(self, key: tuple[Any, ...]) -> bytes | None:
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
        return found

    def store_answer(self, key: tuple[Any, ...], body: bytes, version: int) -> None:
        # Answers for an older directory version can never be served again; drop them now
        # rather than hold a hundred megabytes each until they age out.
        for stale in [k for k in self._answers if k[-2] != version]:
            del self._answers[stale]
        self._answers[key] = body
        while len(self._answers) > self._max_answers:
            self._answers.popitem(last=False)

    def fragments(self, key: tuple[Any, ...]) -> dict[str, tuple[int, bytes]]:
        found = self._fragments.get(key)
        if found is None:
            found = self._fragments[key] = {}
            while len(self._fragments) > self._max_specs:
                self._fragments.popitem(last=False)
        else:
            self._fragments.move_to_end(key)
        return found

    def clear(self) -> None:
        with self.lock:
            self._fragments.clear()
            self._answers.clear()


def render_many(people: list[Person], spec: ReadSpec, today: date, labels: Labels,
                fragments: dict[str, tuple[int, bytes]]) -> bytes:
    """``{"employees": [...]}`` for ``people``, reusing fragments whose revision still matches."""
    with collector_paused():
        return _render_many(people, spec, today, labels, fragments)


def _render_many(people: list[Person], spec: ReadSpec, today: date, labels: Labels,
                 fragments: dict[str, tuple[int, bytes]]) -> bytes:
    parts: list[bytes] = []
    append = parts.append
    dumps = orjson.dumps
    for person in people:
        hit = fragments.get(person.id)
        if hit is not None and hit[0] == person.rev:
            append(hit[1])
            continue
        rev = person.rev  # read before rendering: a concurrent change then forces a re-render
        # orjson hands back its whole output buffer (~4 KB) however short the JSON; a compact
        # copy keeps 100k cached fragments at ~85 MB instead of ~400 MB.
        fragment = bytes(memoryview(dumps(render_person(person, spec, today, labels))))
        fragments[person.id] = (rev, fragment)
        append(fragment)
    return b'{"employees":[' + b",".join(parts) + b"]}"
