"""``python -m sandbox serve ...`` runs the sandbox; ``python -m sandbox ctl ...`` drives it.

``ctl`` only speaks the control API over HTTP, so it works against a sandbox started by ``serve``,
by ``honcho`` or by a test's ``start_sandbox()`` alike. Output is JSON (``list`` prints a table).
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

import requests

TIMEOUT = 30.0


def _csv(text: str) -> list[str] | None:
    """"a,b" -> ["a", "b"]; "all" -> None (no restriction); "" -> []."""
    if text == "all":
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _setting(pair: str) -> tuple[str, Any]:
    """"search_limit=5" -> ("search_limit", 5); values are JSON when they parse as JSON."""
    key, _, raw = pair.partition("=")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def serve(args: argparse.Namespace) -> int:
    from sandbox.server import serve_state
    from sandbox.state import SandboxState

    delays = tuple(float(d) for d in args.retry_delays.split(",")) if args.retry_delays else None
    state = SandboxState(people=args.people, seed=args.seed, webhook_retry_delays=delays)
    running = serve_state(state, args.host, args.port)
    user_id, token = running.credentials
    print(f"HiBob sandbox: {args.people} people, seed {args.seed}", flush=True)
    print(f"  HIBOB_API_URL={running.base_url}")
    print(f"  service user id: {user_id}")
    print(f"  token:           {token}")
    print(f"  control API:     {running.control_url}/  (python -m sandbox ctl "
          f"--url http://{args.host}:{running.port} ...)")
    for name, user in state.predefined.items():
        print(f"  {name:<14} {user.id}  {user.token}  ({user.label})")
    sys.stdout.flush()
    stop = threading.Event()
    # honcho and docker stop with SIGTERM: shut down cleanly like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    running.stop()
    return 0


class Control:
    def __init__(self, url: str) -> None:
        self.base = url.rstrip("/") + "/_control"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> Any:
        answer = requests.request(method, self.base + path, json=body, params=params,
                                  timeout=TIMEOUT)
        if answer.status_code >= 400:
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text.strip()}")
        return answer.json() if answer.content else {"status": answer.status_code}


def _person_path(ident: str) -> str:
    return "/people/" + requests.utils.quote(ident, safe="@")


def ctl(args: argparse.Namespace) -> int:
    control = Control(args.url)
    cmd = args.command
    out: Any
    if cmd == "list":
        out = control.call("GET", "/people", params={
            "lifecycle": args.lifecycle, "status": args.status, "q": args.q, "limit": args.limit})
        for p in out["people"]:
            print(f"{p['id']}  {p['lifecycle_status']:<14} {p['status']:<8} "
                  f"{p['start_date']}  {p['display_name']}  <{p['email'] or '-'}>")
        print(f"({out['total']} people)")
        return 0
    if cmd == "show":
        out = control.call("GET", _person_path(args.id))
    elif cmd == "hire":
        body: dict[str, Any] = {"first_name": args.first_name, "surname": args.surname,
                                "start_date": args.start, "department": args.department,
                                "birthday": args.birthday, "site": args.site, "id": args.id}
        if args.no_email:
            body["email"] = None
        elif args.email:
            body["email"] = args.email
        out = control.call("POST", "/people", {k: v for k, v in body.items()
                                               if v is not None or k == "email"})
    elif cmd == "terminate":
        out = control.call("POST", _person_path(args.id) + "/terminate", {
            "termination_date": args.date, "last_day_of_work": args.last_day,
            "reason": args.reason})
    elif cmd == "rehire":
        out = control.call("POST", _person_path(args.id) + "/rehire", {"start_date": args.start})
    elif cmd == "leave":
        out = control.call("POST", _person_path(args.id) + "/leave",
                           {"type": args.type, "active": args.active})
    elif cmd == "return":
        out = control.call("POST", _person_path(args.id) + "/return")
    elif cmd == "delete":
        out = control.call("DELETE", _person_path(args.id))
    elif cmd in ("set-email", "set-birthday", "set-department"):
        key = cmd.removeprefix("set-")
        value = None if args.value.lower() in ("none", "null", "") else args.value
        out = control.call("PATCH", _person_path(args.id), {key: value})
    elif cmd == "rename-department":
        out = control.call("PATCH", f"/named-lists/department/{args.department}",
                           {"name": args.new_name})
    elif cmd == "add-department":
        out = control.call("POST", "/named-lists/department", {"name": args.name})
    elif cmd == "users":
        out = control.call("GET", "/service-users")
    elif cmd == "add-user":
        body = {"id": args.id, "token": args.token, "label": args.label}
        body = {k: v for k, v in body.items() if v is not None}
        for key, raw in (("categories", args.categories), ("departments", args.departments),
                         ("lifecycle_statuses", args.lifecycle),
                         ("employee_ids", args.employees)):
            if raw is not None:
                body[key] = _csv(raw)
        out = control.call("POST", "/service-users", body)
    elif cmd == "scope":
        body = {}
        for key, raw in (("categories", args.categories), ("departments", args.departments),
                         ("lifecycle_statuses", args.lifecycle),
                         ("employee_ids", args.employees)):
            if raw is not None:
                body[key] = _csv(raw)
        out = control.call("PATCH", f"/service-users/{args.user}", body)
    elif cmd == "group":
        out = control.call("PATCH", f"/service-users/{args.user}",
                           {"in_group": args.membership == "in"})
    elif cmd == "fault":
        if args.kind == "list":
            out = control.call("GET", "/faults")
        elif args.kind == "clear":
            out = control.call("DELETE", "/faults")
        else:
            body = {"kind": args.kind, "count": args.count, "endpoint": args.endpoint}
            if args.kind == "status":
                body["status"] = int(args.value or 503)
            elif args.kind == "slow":
                body["delay"] = float(args.value or 5)
            out = control.call("POST", "/faults", body)
    elif cmd == "clock":
        if args.action == "set":
            out = control.call("PUT", "/clock", {"now": args.value})
        elif args.action == "advance":
            out = control.call("PUT", "/clock", {"advance_days": float(args.value)})
        elif args.action == "reset":
            out = control.call("DELETE", "/clock")
        else:
            out = control.call("GET", "/clock")
    elif cmd == "webhook":
        if args.action == "add":
            out = control.call("POST", "/webhooks", {
                "url": args.url_or_id, "secret": args.secret, "force": args.force,
                "events": _csv(args.events) if args.events else None})
        elif args.action == "remove":
            out = control.call("DELETE", f"/webhooks/{args.url_or_id}")
        elif args.action == "deliveries":
            out = control.call("GET", "/webhooks/deliveries", params={"since": args.since})
        else:
            out = control.call("GET", "/webhooks")
    elif cmd == "events":
        out = control.call("GET", "/events", params={"since": args.since})
    elif cmd == "calls":
        out = (control.call("DELETE", "/calls") if args.clear
               else control.call("GET", "/calls", params={"since": args.since}))
    elif cmd == "config":
        parsed = dict(_setting(pair) for pair in args.settings)
        out = (control.call("PATCH", "/config", parsed) if parsed
               else control.call("GET", "/config"))
    elif cmd == "reset":
        out = control.call("POST", "/reset", {k: v for k, v in
                                              (("people", args.people), ("seed", args.seed))
                                              if v is not None})
    else:
        out = control.call("GET", "/state")
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    top = parser.add_subparsers(dest="mode", required=True)
    srv = top.add_parser("serve", help="run the HiBob sandbox")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8100)
    srv.add_argument("--people", type=int, default=200)
    srv.add_argument("--seed", type=int, default=1)
    srv.add_argument("--retry-delays", help="webhook retry backoff in seconds, e.g. 1,5,30")

    ctl_parser = top.add_parser("ctl", help="change a running sandbox")
    ctl_parser.add_argument("--url", default="http://127.0.0.1:8100")
    sub = ctl_parser.add_subparsers(dest="command", required=True)
    sub.add_parser("state")
    p = sub.add_parser("list")
    p.add_argument("--lifecycle")
    p.add_argument("--status", choices=["Active", "Inactive"])
    p.add_argument("--q")
    p.add_argument("--limit", type=int, default=1000)
    for name in ("show", "return", "delete"):
        sub.add_parser(name).add_argument("id", help="employee id or e-mail")
    p = sub.add_parser("hire")
    p.add_argument("first_name")
    p.add_argument("surname")
    p.add_argument("--email")
    p.add_argument("--no-email", action="store_true")
    p.add_argument("--start", help="YYYY-MM-DD; future = hired (future joiner)")
    p.add_argument("--department", help="name or item id")
    p.add_argument("--birthday", help="YYYY-MM-DD or MM-DD")
    p.add_argument("--site")
    p.add_argument("--id")
    p = sub.add_parser("terminate")
    p.add_argument("id")
    p.add_argument("--date", help="termination date (default: yesterday = effective now)")
    p.add_argument("--last-day", help="last day of work (< date means garden leave)")
    p.add_argument("--reason")
    p = sub.add_parser("rehire")
    p.add_argument("id")
    p.add_argument("--start")
    p = sub.add_parser("leave")
    p.add_argument("id")
    p.add_argument("--type", default="leave", choices=["leave", "parental leave"])
    p.add_argument("--active", action="store_true", help="keep access Active during the leave")
    for name in ("set-email", "set-birthday", "set-department"):
        p = sub.add_parser(name)
        p.add_argument("id")
        p.add_argument("value", help="new value, or 'none' to clear")
    p = sub.add_parser("rename-department")
    p.add_argument("department", help="current name or item id")
    p.add_argument("new_name")
    sub.add_parser("add-department").add_argument("name")
    sub.add_parser("users")
    for name in ("add-user", "scope"):
        p = sub.add_parser(name)
        if name == "scope":
            p.add_argument("user")
        else:
            p.add_argument("--id")
            p.add_argument("--token")
            p.add_argument("--label")
        p.add_argument("--categories", help="e.g. root,work,lifecycle")
        p.add_argument("--departments", help="names or ids, or 'all'")
        p.add_argument("--lifecycle", help="e.g. employed,hired, or 'all'")
        p.add_argument("--employees", help="employee ids, or 'all'")
    p = sub.add_parser("group")
    p.add_argument("user")
    p.add_argument("membership", choices=["in", "out"])
    p = sub.add_parser("fault")
    p.add_argument("kind", choices=["status", "slow", "html", "list", "clear"])
    p.add_argument("value", nargs="?", help="status code (status) or seconds (slow)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--endpoint", default="*",
                   choices=["*", "search", "read", "fields", "named-lists", "other"])
    p = sub.add_parser("clock")
    p.add_argument("action", nargs="?", default="show",
                   choices=["show", "set", "advance", "reset"])
    p.add_argument("value", nargs="?", help="RFC 3339 instant (set) or days (advance)")
    p = sub.add_parser("webhook")
    p.add_argument("action", choices=["add", "list", "remove", "deliveries"])
    p.add_argument("url_or_id", nargs="?")
    p.add_argument("secret", nargs="?")
    p.add_argument("--force", action="store_true", help="keep it even if the ping fails")
    p.add_argument("--events", help="only these event types, comma-separated")
    p.add_argument("--since", type=int, default=0)
    p = sub.add_parser("events")
    p.add_argument("--since", type=int, default=0)
    p = sub.add_parser("calls")
    p.add_argument("--since", type=int, default=0)
    p.add_argument("--clear", action="store_true")
    sub.add_parser("config").add_argument("settings", nargs="*", help="key=value")
    p = sub.add_parser("reset")
    p.add_argument("--people", type=int)
    p.add_argument("--seed", type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return serve(args) if args.mode == "serve" else ctl(args)
