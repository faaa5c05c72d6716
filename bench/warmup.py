"""A scheduled warm-up for a class: 30 users of a group log in at the scheduled time and open their lab.

An admin schedules a warm-up of the group's servers through the sessions API (POST
/services/sessions/api/warmups {"group", "profile", "at", "grace"}) far enough ahead for the hub to
start them all; at the scheduled time the users log in at once (POST /hub/login) and open
/user/<name>/lab, following redirects. The figure is the seconds from each user's login to a 200 of
their JupyterLab page. Servers that are not ready then would send a user to the spawn page: such a
user keeps reloading (every second, like a patient student) until the lab answers or WAIT_S passes.

Beside it, what the logins cost: the machine's busy CPU-seconds while the users log in, per user,
and the login floor (users x that / cores: the soonest the last of them can have a lab, whatever the
order), with the bcrypt check's own CPU at labhub's work factor, which is most of a login.

labhub only: stock JupyterHub has no warm-ups. Where the sessions service has no warm-up API, the
benchmark says "not available" instead of failing the whole run.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import requests

from labhub.admission import machine_busy_s
from labhub.passwords import hash_password, password_matches

from .context import Context
from .cpu import cores, cpu_floor_s, multiple_of
from .report import Row
from .spawning import stop_all
from .stats import summary

NAME = "warmup"
GROUP = "bench-warmup"
USERS = 30
GRACE = "15m"
WAIT_S = 120  # after the scheduled time, how long a user keeps trying to reach their lab
# Lead: every server started before the class, with room to spare (seconds per server on this
# machine kind in a burst, and a margin); the sessions service starts them ahead by its own estimate.
SECONDS_PER_SERVER = 3.0
MARGIN_S = 60.0


def open_lab(url: str, name: str, password: str, wait_s: float) -> dict:
    """Log `name` in and load their lab; seconds from the login POST to a 200 of /user/<name>/lab."""
    s = requests.Session()
    s.get(f"{url}/hub/login", timeout=30)
    started = time.monotonic()
    r = s.post(f"{url}/hub/login", data={"username": name, "password": password, "_xsrf": s.cookies.get("_xsrf")},
               allow_redirects=False, timeout=60)
    if r.status_code != 302:
        return {"user": name, "seconds": None, "error": f"login answered {r.status_code}"}
    tries = 0
    while True:
        tries += 1
        r = s.get(f"{url}/user/{name}/lab", timeout=60)
        if r.status_code == 200 and r.url.split("?")[0].endswith(f"/user/{name}/lab") and "jupyter-config-data" in r.text:
            return {"user": name, "seconds": time.monotonic() - started, "tries": tries, "error": None}
        if time.monotonic() - started > wait_s:
            return {"user": name, "seconds": None, "tries": tries,
                    "error": f"no lab after {wait_s:.0f} s (last page {r.status_code} {r.url.split('?')[0]})"}
        time.sleep(1)


def bcrypt_check_cpu_s(work_factor: int, runs: int = 3) -> float:
    """CPU-seconds of one of labhub's password checks at `work_factor` (median of `runs`, this process)."""
    hashed = hash_password("a bench password", work_factor)
    spent = []
    for _ in range(runs):
        started = time.process_time()
        password_matches("a bench password", hashed)
        spent.append(time.process_time() - started)
    return statistics.median(spent)


def schedule(side, at: float) -> requests.Response:
    return requests.post(f"{side.url}/services/sessions/api/warmups",
                         headers={"Authorization": f"token {side.admin.token}"}, timeout=60,
                         json={"group": GROUP, "profile": side.spawn_options["profile"], "grace": GRACE,
                               "at": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds")})


def not_available(reason: str) -> tuple[dict, list[Row]]:
    print(f"  warm-up: not available: {reason}", flush=True)
    return ({"labhub": {"available": False, "reason": f"not available: {reason}"}, "settings": {"users": USERS}},
            [Row(NAME, f"{USERS} users at the scheduled time: login to lab", f"not available ({reason})", None, "text")])


def run(ctx: Context) -> tuple[dict, list[Row]]:
    labhub = ctx.hubs()[0]
    users = min(USERS, len(ctx.users))
    names = ctx.users[:users]
    ctx.signup(names)
    admin = labhub.admin
    admin.api("POST", f"/groups/{GROUP}")
    r = admin.api("POST", f"/groups/{GROUP}/users", json={"users": names})
    if r.status_code != 200:
        raise RuntimeError(f"adding the users to {GROUP} failed: {r.status_code} {r.text[:300]}")
    try:
        lead = SECONDS_PER_SERVER * users + MARGIN_S
        at = time.time() + lead
        try:
            r = schedule(labhub, at)
        except requests.RequestException as e:
            return not_available(f"sessions service did not answer ({type(e).__name__})")
        if r.status_code in (404, 405, 502, 503):  # no such route, or no sessions service behind the proxy
            return not_available(f"POST /services/sessions/api/warmups answered {r.status_code}")
        if r.status_code != 201:
            raise RuntimeError(f"scheduling the warm-up failed: {r.status_code} {r.text[:300]}")
        warmup = r.json()
        print(f"  warm-up of {users} scheduled {lead:.0f} s ahead: {warmup}", flush=True)
        time.sleep(max(at - time.time(), 0))
        busy = machine_busy_s()
        with ThreadPoolExecutor(users) as pool:
            found = list(pool.map(lambda n: open_lab(labhub.url, n, labhub.password, WAIT_S), names))
        per_user = (machine_busy_s() - busy) / users
        ok = [f["seconds"] for f in found if f["seconds"] is not None]
        first_try = sum(1 for f in found if f.get("tries") == 1 and f["seconds"] is not None)
        floor = cpu_floor_s(users, per_user, cores())
        lab_s = summary(ok)
        entry = {"available": True, "users": users, "scheduled_ahead_s": lead, "warmup": warmup,
                 "login_to_lab_s": lab_s, "ready_on_first_load": first_try, "lab_reached": len(ok),
                 "machine_cpu_s_per_user": per_user, "bcrypt_check_cpu_s": bcrypt_check_cpu_s(labhub.work_factor),
                 "password_work_factor": labhub.work_factor, "login_floor_s": floor,
                 "max_over_login_floor": multiple_of(lab_s["max"] if ok else None, floor),
                 "errors": [f["error"] for f in found if f["error"]]}
        print(f"  warm-up: {len(ok)}/{users} reached their lab, {first_try} on the first load; login to lab "
              f"p50 {entry['login_to_lab_s']['p50']}, max {entry['login_to_lab_s']['max']}; machine "
              f"{per_user:.2f} CPU-s per user (bcrypt {entry['bcrypt_check_cpu_s']:.2f} at work factor "
              f"{labhub.work_factor}), login floor {floor:.1f} s", flush=True)
    finally:
        stop_all(labhub)
        admin.api("DELETE", f"/groups/{GROUP}")
    s = entry["login_to_lab_s"]
    result = {"labhub": entry, "settings": {
        "users": users, "group": GROUP, "grace": GRACE, "wait_s": WAIT_S,
        "machine_cpu": "busy CPU-seconds of all cores (/proc/stat) from the first login until the last lab page, per user",
        "login_to_lab": "POST /hub/login at the scheduled time until GET /user/<name>/lab (redirects followed) "
                        "answers 200 with JupyterLab's page; reloaded every second while it does not",
        "labhub": labhub.describe()}}
    rows = [
        Row(NAME, f"{users} users at the scheduled time: login to lab, p50", s["p50"], None),
        Row(NAME, f"{users} users at the scheduled time: login to lab, max", s["max"], None),
        Row(NAME, "  lab ready on the first load", first_try, None, "count"),
        Row(NAME, "  machine CPU per user's login and lab", entry["machine_cpu_s_per_user"], None, "CPU-s"),
        Row(NAME, f"  of it, bcrypt's check (work factor {labhub.work_factor})", entry["bcrypt_check_cpu_s"], None, "CPU-s"),
        Row(NAME, f"  login floor ({users} x CPU per user / cores)", floor, None),
        Row(NAME, "  max as a multiple of the login floor", entry["max_over_login_floor"], None, "x"),
    ]
    return result, rows
