"""Print what a newcomer needs once the local service is up (Procfile.dev's `banner`)."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.config import load_config  # noqa: E402


def wait_for(url: str, seconds: float = 60) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    web = f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}"
    sandbox = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8100')}"
    if not (wait_for(web + "/healthz") and wait_for(sandbox + "/_control/state")):
        print("peoplesync: web or sandbox did not come up; see the lines above", file=sys.stderr)
        return 1
    users = requests.get(sandbox + "/_control/service-users", timeout=5).json()
    default = next(u for u in users["service_users"] if u["id"] == users["default"])
    token = load_config().store_api_token
    body = json.dumps({"store_id": "demo-store", "provider": "hibob",
                       "credentials": {"service_user_id": default["id"], "token": default["token"]}})
    link_call = f"{web}/api/v1/stores/demo-store/dashboard-link"
    try:  # what a store backend does when its admin opens People & Budget
        dashboard = requests.post(link_call, json={}, headers={"Authorization": f"Bearer {token}"},
                                  timeout=5).json()["url"]
    except (requests.RequestException, ValueError, KeyError):
        dashboard = "(could not get one; see the web process's lines above)"
    print(f"""
================================================================================
 peoplesync is running (Ctrl-C stops everything)

 API base URL        {web}/api/v1        (OpenAPI: {web}/api/openapi.json)
 store API token     {token}
 HiBob sandbox       {sandbox}/v1   (control: python -m sandbox ctl --url {sandbox} state)
 service user ID     {default['id']}
 service user token  {default['token']}

 Create an integration for the store "demo-store":

 curl -s -X POST {web}/api/v1/integrations \\
   -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
   -d '{body}'

 Then: curl -s -H 'Authorization: Bearer {token}' {web}/api/v1/stores/demo-store/people

 Or do it as a store admin would, in the dashboard (single use, valid 10 minutes):
 {dashboard}
 A new link: curl -s -X POST -H 'Authorization: Bearer {token}' {link_call}
================================================================================
""", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
    # honcho stops every process when one exits, so the banner stays until Ctrl-C.
    signal.pause()
