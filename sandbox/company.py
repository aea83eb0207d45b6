"""A realistic, reproducible HiBob company: ``generate_company(n, seed, today)``.

Same ``(n, seed, today)`` -> the same company, byte for byte. Besides ordinary employees it always
holds the awkward cases a sync must survive (all of them once the company has 30 people): future
joiners (hired, Inactive), terminated people, garden leave (Active on the last day of work and
Inactive after it), people leaving soon, people on leave (Active and Inactive), rehires (same id,
new start date), people without e-mail, namesakes, a Feb-29 birthday, people without a birthday,
a terminated person whose address was later reused by a new hire, and departments from a named
list including archived ones that only former staff still point at.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sandbox.fields import SITES
from sandbox.names import CULTURES, Name, ascii_spelling, written
from sandbox.people import ACTIVE, LEAVE, PARENTAL_LEAVE, Person, day_after, lifecycle_on
from shared.memory import collector_paused

DEPARTMENTS = ("Engineering", "Product", "Design", "Sales", "Marketing", "Customer Success",
               "Finance", "People", "Legal", "Operations", "Data", "Security", "IT")
ARCHIVED_DEPARTMENTS = ("Growth", "Partnerships (old)")
DEPARTMENT_WEIGHTS = (30, 8, 5, 16, 8, 10, 5, 4, 2, 7, 6, 3, 4)
SITE_NAMES = tuple(SITES)  # London, New York, ... (sandbox.fields.SITES holds addresses)
SITE_WEIGHTS = (25, 20, 10, 10, 12, 6, 5, 12)
TITLES = ("Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager",
          "Product Manager", "Product Designer", "Account Executive", "Sales Development Rep",
          "Marketing Manager", "Customer Success Manager", "Support Specialist", "Accountant",
          "Financial Analyst", "HR Business Partner", "Recruiter", "Counsel", "Operations Manager",
          "Data Analyst", "Data Scientist", "Security Engineer", "IT Specialist", "Office Manager",
          "Chief Executive Officer")
TERMINATION_REASONS = ("Resignation", "Dismissal", "End of contract", "Redundancy", "Retirement")
TERMINATION_TYPES = ("Voluntary", "Involuntary")
PRONOUNS = ("He / Him", "She / Her", "They / Them")
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Rua Augusta",
           "Hauptstraße", "Rue de la Paix", "Calle Mayor", "Nehru Nagar", "Herzl St")

# Share of the company in each awkward case (the rest are plainly employed), and the number every
# company of 12+ people gets at least, so a 60-person test company always has each case.
CASES: dict[str, tuple[float, int]] = {
    "future_joiner": (0.04, 2), "terminated": (0.08, 3), "garden_leave": (0.012, 1),
    "garden_leave_last_day": (0.003, 1), "leaving_soon": (0.01, 1), "leave_active": (0.012, 1),
    "leave_inactive": (0.012, 1), "parental_leave": (0.01, 1), "rehired": (0.01, 1),
    "rehire_future": (0.002, 1),
}


@dataclass
class Company:
    company_id: int
    domain: str
    people: list[Person]
    named_lists: dict[str, list[dict[str, Any]]]
    admin_id: str  # the HR admin whose id webhooks carry as triggeredBy for manual changes
    cases: dict[str, list[str]] = field(default_factory=dict)  # case -> person ids


def list_item(item_id: str, label: str, archived: bool = False) -> dict[str, Any]:
    return {"id": item_id, "value": label, "name": label, "archived": archived, "children": []}


def _named_lists(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    def numeric_items(labels: tuple[str, ...], archived: tuple[str, ...] = ()) -> list[dict]:
        ids = rng.sample(range(100_000_000, 999_999_999), len(labels) + len(archived))
        return ([list_item(str(i), label) for i, label in zip(ids, labels)]
                + [list_item(str(i), label, True) for i, label in zip(ids[len(labels):], archived)])

    return {
        "department": numeric_items(DEPARTMENTS, ARCHIVED_DEPARTMENTS),
        "site": numeric_items(SITE_NAMES),
        "title": numeric_items(TITLES),
        "terminationreason": numeric_items(TERMINATION_REASONS),
        "lifecycleReasonType": numeric_items(TERMINATION_TYPES),
        "status": [list_item("Active", "Active"), list_item("Inactive", "Inactive")],
        "lifecycleStatus": [list_item(s, s[:1].upper() + s[1:]) for s in
                            ("hired", "employed", "garden leave", "terminated", "leave",
                             "parental leave")],
        "pronouns": [list_item(p, p) for p in PRONOUNS],
    }


def _case_plan(n: int, rng: random.Random) -> list[str]:
    plan: list[str] = []
    for case, (share, minimum) in CASES.items():
        plan += [case] * max(round(n * share), minimum if n >= 12 else 0)
    plan = plan[: max(n - 1, 0)]
    plan += ["employed"] * (n - 1 - len(plan))
    rng.shuffle(plan)
    return ["ceo"] + plan if n else []


@lru_cache(maxsize=None)
def _day(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def generate_company(n: int, seed: int, today: date) -> Company:
    """Make a company of ``n`` people; deterministic for a given ``(n, seed, today)``."""
    with collector_paused():
        return _generate(n, seed, today)


def _generate(n: int, seed: int, today: date) -> Company:
    rng = random.Random(seed)
    rnd, bits = rng.random, rng.getrandbits

    # random.randrange/choice cost ~1 us each; these cost a quarter of that, which is what keeps
    # 100,000 people within a couple of seconds.
    def ri(low: int, high: int) -> int:
        return low + int(rnd() * (high - low))

    def pick(seq: Any) -> Any:
        return seq[int(rnd() * len(seq))]

    lists = _named_lists(rng)
    company_id = 600_000 + rng.randrange(100_000)
    domain = "example-" + str(seed) + ".com"
    today_ord, today_iso = today.toordinal(), today.isoformat()
    cultures = list(CULTURES.values())
    dept_ids = [item["id"] for item in lists["department"] if not item["archived"]]
    archived_ids = [item["id"] for item in lists["department"] if item["archived"]]
    site_ids = [item["id"] for item in lists["site"]]
    title_ids = [item["id"] for item in lists["title"]]
    reason_ids = [item["id"] for item in lists["terminationreason"]]
    type_ids = [item["id"] for item in lists["lifecycleReasonType"]]
    plan = _case_plan(n, rng)
    culture_picks = rng.choices(cultures, [c[2] for c in cultures], k=n)
    dept_picks = rng.choices(dept_ids, DEPARTMENT_WEIGHTS, k=n)
    site_picks = rng.choices(range(len(SITE_NAMES)), SITE_WEIGHTS, k=n)
    used_ids: set[str] = set()
    email_counts: dict[str, int] = {}
    people: list[Person] = []
    cases: dict[str, list[str]] = {}
    # Who has no e-mail and who shares a name with an earlier colleague: drawn up front so every
    # company of 12+ people has at least one of each.
    plain = [i for i in range(3, n) if plan[i] in ("employed", "future_joiner")]
    no_email = set(rng.sample(plain, min(len(plain), max(round(n * 0.03), 1 if n >= 12 else 0))))
    plain = [i for i in plain if i not in no_email and plan[i] == "employed"]
    namesakes = set(rng.sample(plain, min(len(plain), max(round(n * 0.02), 1 if n >= 12 else 0))))
    leap_day_index = n // 2 if n >= 12 else -1
    chosen_names: list[tuple[Name, Name]] = []  # (first, last) as drawn, for namesakes

    for index in range(n):
        case = plan[index]
        pid = str(3 * 10**18 + bits(60) % 10**18)
        while pid in used_ids:
            pid = str(3 * 10**18 + bits(60) % 10**18)
        used_ids.add(pid)
        firsts, surnames, _ = culture_picks[index]
        first: Name = pick(firsts)
        last: Name = pick(surnames)
        if index in namesakes:
            first, last = chosen_names[ri(1, len(chosen_names))]
            case = "namesake"
        chosen_names.append((first, last))
        middle = pick(firsts) if rnd() < 0.08 else None

        # Dates: ordinary employees started 2 weeks to 15 years ago.
        start = today_ord - ri(14, 15 * 365)
        original = start
        termination = last_day = None
        if case == "future_joiner":
            start = original = today_ord + ri(1, 120)
        elif case == "terminated":
            termination = ri(start + 30, today_ord) if start + 30 < today_ord else today_ord - 1
            last_day = termination if rnd() < 0.8 else termination - ri(1, 30)
        elif case in ("garden_leave", "garden_leave_last_day", "leaving_soon"):
            start = original = min(start, today_ord - 60)
            termination = today_ord + ri(5, 60)
            last_day = {"garden_leave": today_ord - ri(1, 20),
                        "garden_leave_last_day": today_ord,
                        "leaving_soon": termination}[case]
        elif case in ("rehired", "rehire_future"):
            original = today_ord - ri(3 * 365, 10 * 365)
            start = today_ord - ri(20, 700) if case == "rehired" else today_ord + ri(3, 60)
        elif case == "ceo":
            start = original = today_ord - 12 * 365

        email: str | None = None
        if index in no_email:
            cases.setdefault("no_email", []).append(pid)
        else:
            # Namesakes get john.smith2@, john.smith3@... as mail systems hand them out.
            local = ascii_spelling(first) + "." + ascii_spelling(last)
            taken = email_counts.get(local, 0)
            email_counts[local] = taken + 1
            email = f"{local}{taken + 1}@{domain}" if taken else local + "@" + domain

        birth: str | None = None
        if rnd() < 0.95 or case == "ceo":
            birth = f"{ri(1958, 2005)}-{ri(1, 13):02d}-{ri(1, 29):02d}"
        if index == leap_day_index:
            birth = "1992-02-29"
            cases.setdefault("leap_day_birthday", []).append(pid)

        site_index = site_picks[index]
        dept = dept_picks[index]
        if case == "terminated" and rnd() < 0.2:
            dept = pick(archived_ids)  # departments archived after the person left
        first_w, last_w = written(first), written(last)
        creation = min(start, original, today_ord) - ri(1, 60)
        clock = ri(7 * 3600, 19 * 3600)
        line1 = f"{ri(1, 200)} {pick(STREETS)}" if rnd() < 0.85 else None
        values: dict[str, Any] = {
            "root.id": pid,
            "root.companyId": company_id,
            "root.email": email,
            "root.firstName": first_w,
            "root.surname": last_w,
            "root.secondName": written(middle) if middle else None,
            "root.displayName": first_w + " " + last_w,
            "root.fullName": first_w + " " + last_w,
            "root.creationDateTime": f"{_day(creation)}T{clock // 3600:02d}:"
                                     f"{clock // 60 % 60:02d}:{clock % 60:02d}.{ri(0, 10**6):06d}",
            "root.avatarUrl": (f"https://images.sandbox.invalid/avatars/{pid}.png"
                               if rnd() < 0.7 else None),
            "personal.birthDate": birth,
            "personal.shortBirthDate": birth[5:] if birth else None,
            "personal.pronouns": pick(PRONOUNS) if rnd() < 0.4 else None,
            "home.privateEmail": (f"{ascii_spelling(first)}{ri(10, 99)}@gmail.com"
                                  if rnd() < 0.5 else None),
            "home.mobilePhone": f"+44 7700 9{ri(10**4, 10**5)}" if rnd() < 0.6 else None,
            "work.employeeIdInCompany": index + 1,
            "work.title": title_ids[-1] if case == "ceo" else title_ids[ri(0, len(title_ids) - 1)],
            "work.startDate": _day(start),
            "work.originalStartDate": _day(original),
            "work.site": SITE_NAMES[site_index],
            "work.siteId": site_ids[site_index],
            "work.department": dept,
            "work.reportsTo": None,
            "work.manager": None,
            "work.isManager": False,
            "work.custom.field_1698036945383": f"CC-{ri(1000, 9999)}",
            "address.line1": line1,  # city, country... derive from the site
            "internal.terminationDate": _day(termination) if termination else None,
            "employee.lastDayOfWork": _day(last_day) if last_day else None,
            "internal.terminationReason": pick(reason_ids) if termination else None,
            "internal.terminationType": pick(type_ids) if termination else None,
            "employee.firstDayOfWork": _day(start),
        }
        person = Person(id=pid, values=values)
        if case in ("leave_active", "leave_inactive", "parental_leave"):
            person.leave_type = PARENTAL_LEAVE if case == "parental_leave" else LEAVE
            person.leave_active = case == "leave_active" or rnd() < 0.5
        lifecycle, status = lifecycle_on(values, person.leave_type, person.leave_active, today_iso)
        values["internal.lifecycleStatus"] = lifecycle
        values["internal.status"] = status
        values["root.state"] = "active" if status == ACTIVE else "inactive"
        values["internal.currentActiveStatusStartDate"] = (
            day_after(values["internal.terminationDate"]) if lifecycle == "terminated"
            else values["work.startDate"])
        people.append(person)
        cases.setdefault(case, []).append(pid)

    _guarantee_rare_cases(people, cases, archived_ids)
    _assign_managers(people, cases)
    _reuse_an_address(people, cases)
    admin = people[0].id if people else "system"
    return Company(company_id, domain, people, lists, admin, cases)


def _guarantee_rare_cases(people: list[Person], cases: dict[str, list[str]],
                          archived_ids: list[str]) -> None:
    """Cases drawn by chance, forced once when chance left them out of a small company."""
    if len(people) < 12:
        return
    leap = set(cases.get("leap_day_birthday", ()))
    if not any(p.values["personal.birthDate"] is None for p in people):
        plain = next((p for p in people[len(people) // 3:]
                      if p.lifecycle == "employed" and p.id not in leap), None)
        if plain is not None:
            plain.values["personal.birthDate"] = plain.values["personal.shortBirthDate"] = None
    leavers = [p for p in people if p.lifecycle == "terminated"]
    if leavers and not any(p.values["work.department"] in archived_ids for p in leavers):
        leavers[0].values["work.department"] = archived_ids[0]


def _assign_managers(people: list[Person], cases: dict[str, list[str]]) -> None:
    """Each department's first working member heads it and reports to the CEO (person 0)."""
    if not people:
        return
    heads: dict[str, Person] = {}
    ceo = people[0]
    for person in people[1:]:
        dept = person.values["work.department"]
        if dept not in heads and person.values["internal.status"] == ACTIVE \
                and person.values["internal.lifecycleStatus"] == "employed":
            heads[dept] = person
    for person in people[1:]:
        head = heads.get(person.values["work.department"], ceo)
        if head is person:
            head = ceo
            person.values["work.isManager"] = True
        boss = head.values
        person.values["work.reportsTo"] = {
            "id": head.id, "firstName": boss["root.firstName"], "surname": boss["root.surname"],
            "email": boss["root.email"], "displayName": boss["root.displayName"],
        }
        person.values["work.manager"] = head.id
    ceo.values["work.isManager"] = True
    cases["department_heads"] = [p.id for p in heads.values()]


def _reuse_an_address(people: list[Person], cases: dict[str, list[str]]) -> None:
    """Give one former employee the same work e-mail as a later hire ([U] but plausible)."""
    if len(people) < 30:
        return
    leaver = next((p for p in people if p.lifecycle == "terminated" and p.email), None)
    if leaver is None:
        return
    left_on = leaver.values["internal.terminationDate"]
    joiner = next((p for p in reversed(people) if p.lifecycle == "employed" and p.email
                   and p.values["work.startDate"] > left_on), None)
    if joiner is not None:
        leaver.values["root.email"] = joiner.email
        cases["reused_email"] = [leaver.id, joiner.id]
