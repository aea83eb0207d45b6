"""Property tests of the decoder: whatever HiBob sends, the answer is employees or InvalidData."""
from __future__ import annotations

import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.hibob.decode import decoder_for
from shared.hibob.errors import InvalidData
from shared.hibob.model import EMPLOYEE_FIELDS, SYNC_FIELD_IDS

DECODER = decoder_for(SYNC_FIELD_IDS)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)
# Values that look like what HiBob sends, in the right places or not.
field_names = st.sampled_from(["id", "email", "work", "personal", "internal", "employee",
                               "startDate", "shortBirthDate", "value", "/root/id", "/work/site",
                               "/work/startDate", "/personal/shortBirthDate", "status"])
hibobish = st.recursive(json_scalars | st.sampled_from(["2021-03-04", "02-29", "12-31"]),
                        lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(field_names, inner, max_size=5), max_leaves=25)


def decode_or_invalid(body: bytes) -> None:
    try:
        result = DECODER.search(body)
    except InvalidData as error:
        assert error.code == "invalid_data" and str(error)
        return
    for employee in result.employees:
        assert isinstance(employee["external_id"], str) and employee["external_id"]
    ids = [employee["external_id"] for employee in result.employees]
    assert len(ids) == len(set(ids))


@FAST
@given(json_values)
def test_any_json_is_employees_or_invalid_data(value):
    decode_or_invalid(json.dumps(value).encode())
    decode_or_invalid(json.dumps({"employees": value}).encode())


@FAST
@given(st.lists(hibobish, max_size=5))
def test_any_employee_list_is_employees_or_invalid_data(employees):
    decode_or_invalid(json.dumps({"employees": employees}).encode())
    for employee in employees:
        try:
            DECODER.person(json.dumps(employee).encode())
        except InvalidData:
            pass


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_are_employees_or_invalid_data(body):
    decode_or_invalid(body)


# --- round trip: valid people in any mix of encodings decode to exactly the model ---------

VALUES: dict[str, Any] = {
    "email": st.text(max_size=12), "first_name": st.text(max_size=8),
    "last_name": st.text(max_size=8), "display_name": st.text(max_size=8),
    "birthday": st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31))
    .map(lambda d: d.strftime("%m-%d")),
    "start_date": st.dates().map(date.isoformat),
    "termination_date": st.dates().map(date.isoformat),
    "last_day_of_work": st.dates().map(date.isoformat),
    "department_id": st.integers(min_value=0) | st.text(min_size=1, max_size=10),
    "site": st.text(max_size=8), "status": st.sampled_from(["Active", "Inactive"]),
    "lifecycle_status": st.sampled_from(["hired", "employed", "garden leave", "terminated"]),
}
# Per field: hidden, explicit null or a value; sent nested, as a slash key, or both.
presence = st.sampled_from(["hidden", "null", "value"])
encoding = st.sampled_from(["nested", "slash", "both"])


@st.composite
def person_and_expected(draw: st.DrawFn, external_id: str) -> tuple[dict, dict]:
    raw: dict[str, Any] = {}
    expected: dict[str, Any] = {"external_id": external_id}
    chosen: dict[str, Any] = {"external_id": ("value", external_id)}
    for key, strategy in VALUES.items():
        state = draw(presence)
        if state != "hidden":
            chosen[key] = (state, draw(strategy) if state == "value" else None)
    for key, (state, value) in chosen.items():
        field_id, json_path = EMPLOYEE_FIELDS[key]
        how = draw(encoding)
        if how in ("nested", "both"):
            category, _, name = json_path.rpartition(".")
            (raw.setdefault(category, {}) if category else raw)[name] = value
        if how in ("slash", "both"):
            raw["/" + field_id.replace(".", "/")] = {"value": value}
        # U+0000 is dropped from texts (PostgreSQL cannot store it; shared/hibob/decode.py)
        expected[key] = str(value) if isinstance(value, int) else \
            value.replace("\x00", "") if isinstance(value, str) else value
    return raw, expected


@FAST
@given(st.data(), st.sets(st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=6), max_size=6))
def test_valid_people_in_any_encoding_decode_to_the_model(data, ids):
    pairs = [data.draw(person_and_expected(external_id)) for external_id in sorted(ids)]
    result = DECODER.search(json.dumps({"employees": [raw for raw, _ in pairs]}).encode())
    assert result.employees == [expected for _, expected in pairs]
    for key in VALUES:
        hidden = sum(key not in expected for _, expected in pairs)
        assert result.missing_counts.get(key, 0) == hidden
