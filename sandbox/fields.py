"""The HiBob employee fields the sandbox knows, as `GET /company/people/fields` describes them.

Ids, names, categories, types and list ids follow a real tenant's metadata (reference §2.7 and §3).
Permission is granted per *category* (``categoryId``), never per id prefix: ``internal.*`` and
``employee.lastDayOfWork`` live in "lifecycle", ``root.state`` in "userData", ``home.*`` in
"personalContact". A field whose category the service user lacks is silently left out of answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

CATEGORY_NAMES: dict[str, str] = {
    "root": "Basic info",
    "userData": "User data",
    "personal": "Personal",
    "personalContact": "Personal contact details",
    "work": "Work",
    "address": "Address",
    "lifecycle": "Lifecycle",
    "category_1698036945383": "Finance",  # a custom category, as real tenants have
}

# What a new permission group in the sandbox sees unless told otherwise (the brief's default user).
DEFAULT_CATEGORIES: frozenset[str] = frozenset({"root", "work", "personal", "lifecycle"})


@dataclass(frozen=True)
class FieldDef:
    """One employee field: how it is requested, where it sits in answers, who may see it."""

    id: str
    name: str
    category: str
    type: str
    list_id: str | None = None
    historical: bool = False
    json_path: str = ""
    description: str | None = None
    # Calculated from other values at read time (e.g. age depends on today).
    derive: Callable[[dict[str, Any], date], Any] | None = field(default=None, compare=False)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple((self.json_path or self.id).split("."))

    @property
    def slash_key(self) -> str:
        # "/root/id", "/work/startDate": the flat encoding HiBob sends beside the nested one.
        return "/" + self.id.replace(".", "/")

    def descriptor(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "categoryId": self.category,
            "categoryDisplayName": CATEGORY_NAMES.get(self.category, self.category),
            "jsonPath": self.json_path or self.id,
            "type": self.type,
            "typeData": {"listId": self.list_id} if self.list_id else {},
            "historical": self.historical,
            "description": self.description,
        }


# The sandbox company's sites: name -> (city, country, postcode, region, street address). The
# address fields of a person derive from their site (one table, not ten copies per person).
SITES: dict[str, tuple[str | None, ...]] = {
    "London": ("London", "United Kingdom", "EC2A 4NE", None, "1 Finsbury Avenue"),
    "New York": ("New York", "United States", "10001", "NY", "350 Fifth Avenue"),
    "Tel Aviv": ("Tel Aviv", "Israel", "6789141", None, "12 Rothschild Blvd"),
    "Berlin": ("Berlin", "Germany", "10115", None, "Invalidenstraße 117"),
    "Bangalore": ("Bengaluru", "India", "560001", "Karnataka", "42 MG Road"),
    "São Paulo": ("São Paulo", "Brazil", "01310-100", "SP", "Avenida Paulista 1000"),
    "Tokyo": ("Tokyo", "Japan", "100-0005", None, "1-1 Marunouchi"),
    "Remote": (None, None, None, None, None),
}


def _site_part(index: int) -> Callable[[dict[str, Any], date], Any]:
    def derive(values: dict[str, Any], today: date) -> Any:
        site = SITES.get(values.get("work.site") or "")
        return site[index] if site else None
    return derive


def _full_address(values: dict[str, Any], today: date) -> str | None:
    line1 = values.get("address.line1")
    if not line1:
        return None
    city, country, postcode = (_site_part(i)(values, today) for i in (0, 1, 2))
    return ", ".join(part for part in (line1, city, postcode, country) if part)


def _creation_date(values: dict[str, Any], today: date) -> str | None:
    stamp = values.get("root.creationDateTime")
    return stamp[:10] if stamp else None


def _age(values: dict[str, Any], today: date) -> int | None:
    born = values.get("personal.birthDate")
    if not born:
        return None
    year, month, day = (int(part) for part in born.split("-"))
    return today.year - year - ((today.month, today.day) < (month, day))


def _root(fid: str, name: str, ftype: str = "text") -> FieldDef:
    # Root fields answer at the top level: jsonPath drops the "root." prefix.
    return FieldDef(fid, name, "root", ftype, json_path=fid.removeprefix("root."))


FIELDS: tuple[FieldDef, ...] = (
    _root("root.id", "ID", "employee-reference"),
    _root("root.companyId", "Company id", "number"),
    _root("root.email", "Email"),
    _root("root.firstName", "First name"),
    _root("root.surname", "Last name"),
    _root("root.fullName", "Full name"),
    _root("root.displayName", "Display name"),
    _root("root.secondName", "Middle name"),
    _root("root.creationDateTime", "Creation timestamp", "time"),
    _root("root.avatarUrl", "Avatar URL", "avatar"),
    FieldDef("root.state", "State", "userData", "list", "state", json_path="state"),
    FieldDef("root.creationDate", "Creation date", "userData", "date", json_path="creationDate",
             derive=_creation_date),
    FieldDef("personal.birthDate", "Date of Birth", "personal", "date"),
    FieldDef("personal.age", "Age", "personal", "number", derive=_age),
    FieldDef("personal.shortBirthDate", "Birthday", "personal", "short-date"),
    FieldDef("personal.pronouns", "Pronouns", "personal", "list", "pronouns"),
    FieldDef("home.privateEmail", "Personal email", "personalContact", "text"),
    FieldDef("home.mobilePhone", "Personal mobile", "personalContact", "text"),
    FieldDef("work.employeeIdInCompany", "Employee ID", "work", "number"),
    FieldDef("work.title", "Job title", "work", "list", "title", historical=True),
    FieldDef("work.startDate", "Start date", "work", "date"),
    FieldDef("work.originalStartDate", "Original start date", "work", "date"),
    FieldDef("work.site", "Site", "work", "text"),
    FieldDef("work.siteId", "Site", "work", "list_id", "site", historical=True),
    FieldDef("work.department", "Department", "work", "list", "department", historical=True),
    FieldDef("work.reportsTo", "Reports to", "work", "employee", historical=True),
    FieldDef("work.manager", "Manager", "work", "employee-reference", historical=True),
    FieldDef("work.isManager", "Is a manager", "work", "boolean"),
    FieldDef(
        "work.custom.field_1698036945383", "Cost center", "category_1698036945383", "text",
        description="Finance cost center code",
    ),
    FieldDef("address.line1", "Address line 1", "address", "text", historical=True),
    FieldDef("address.line2", "Address line 2", "address", "text", historical=True),
    FieldDef("address.fullAddress", "Full address", "address", "text", derive=_full_address),
    FieldDef("address.city", "City", "address", "text", historical=True,
             derive=_site_part(0)),
    FieldDef("address.postCode", "Zip/Post/Postal code", "address", "text", historical=True,
             derive=_site_part(2)),
    FieldDef("address.country", "Country", "address", "list", "countries", historical=True,
             derive=_site_part(1)),
    FieldDef("address.usaState", "State/Province/Region", "address", "text", historical=True,
             derive=_site_part(3)),
    FieldDef("address.siteAddress1", "Site address line 1", "address", "text",
             derive=_site_part(4)),
    FieldDef("address.siteAddress2", "Site address line 2", "address", "text"),
    FieldDef("address.siteCountry", "Site country", "address", "list", "countries",
             derive=_site_part(1)),
    FieldDef("address.sitePostalCode", "Site Zip/Post/Postal code", "address", "text",
             derive=_site_part(2)),
    FieldDef("address.siteCity", "Site city", "address", "text", derive=_site_part(0)),
    FieldDef("address.siteState", "Site State/Province/Region", "address", "text",
             derive=_site_part(3)),
    FieldDef("internal.lifecycleStatus", "Lifecycle status", "lifecycle", "list",
             "lifecycleStatus", historical=True),
    FieldDef("internal.status", "Status", "lifecycle", "list", "status", historical=True),
    FieldDef("internal.terminationReason", "Reason for termination", "lifecycle", "list",
             "terminationreason"),
    FieldDef("internal.terminationDate", "Termination date", "lifecycle", "date"),
    FieldDef("internal.terminationType", "Leave and termination type", "lifecycle", "list",
             "lifecycleReasonType"),
    FieldDef("internal.currentActiveStatusStartDate", "current active lifecycle start date",
             "lifecycle", "date"),
    FieldDef("employee.firstDayOfWork", "First day of work", "lifecycle", "date"),
    FieldDef("employee.lastDayOfWork", "Last day of work", "lifecycle", "date"),
)

FIELDS_BY_ID: dict[str, FieldDef] = {f.id: f for f in FIELDS}

# Without "fields" HiBob answers a default set from root, about, employment and work (reference
# §2.1); the sandbox has no about/employment fields, so root basics plus work.
DEFAULT_FIELD_IDS: tuple[str, ...] = (
    "root.id", "root.companyId", "root.email", "root.firstName", "root.surname",
    "root.displayName", "root.secondName", "root.creationDateTime", "root.avatarUrl",
    "work.title", "work.startDate", "work.site", "work.department", "work.reportsTo",
)

MAX_FIELDS = 400


def _format_date(value: str) -> str:
    # Human-readable dates follow the caller's locale (reference §2.1); the sandbox's admin is
    # en-GB, so "2019-09-08" reads "08/09/2019" - exactly why clients must never parse these.
    year, month, day = value[:10].split("-")
    return f"{day}/{month}/{year}"


def human_value(fdef: FieldDef, value: Any, labels: Callable[[str, str], str | None],
                person_name: Callable[[str], str | None]) -> Any:
    """The label HiBob shows for a machine value (for humanReadable APPEND/REPLACE)."""
    if value is None:
        return None
    if fdef.id == "root.id":
        return value  # the capture shows the id unchanged in humanReadable
    if fdef.type == "date":
        return _format_date(value)
    if fdef.type == "time":
        return _format_date(value) + " " + value[11:16]
    if fdef.type == "short-date":
        month, day = value.split("-")
        return f"{day}/{month}"
    if fdef.type == "employee":
        return value.get("displayName") if isinstance(value, dict) else value
    if fdef.type == "employee-reference":
        return person_name(value) or value
    if fdef.type in ("list", "list_id") and fdef.list_id:
        if fdef.list_id == "lifecycleStatus":
            return value[:1].upper() + value[1:]
        return labels(fdef.list_id, value) or value
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def category_of(field_id: str) -> str | None:
    fdef = FIELDS_BY_ID.get(field_id)
    return fdef.category if fdef else None
