"""The assignments panel's server side: a fixed set of the submissions service's calls, made as this
server's user with this server's own hub token, like the `lab-assignments` command does.

  GET  assignments/me                                 -> api/me: who you are, your courses and your role in each
  GET  assignments/courses/<c>                        -> api/courses/<c>/assignments
  GET  assignments/courses/<c>/<a>/submissions        -> .../submissions: yours (instructors: latest per student)
  POST assignments/courses/<c>/<a>/fetch              the starter and visible test files (GET .../<a>, then
                                                      .../files/<kind>/<name>) written into ~/assignments/<c>/<a>/
  POST assignments/courses/<c>/<a>/submit {"path"}    -> .../submissions?filename=<its name>, the file as the body
  GET  assignments/submissions/<id>/feedback          -> api/submissions/<id>/feedback

Nothing else under assignments/ is forwarded. The token comes from this server's environment (the hub
gave it access to the service when it started the server); nothing hub-side calls in here. Fetch writes
here, in the server, like `lab-assignments fetch` (so it works wherever the server runs), and never
replaces a file you have. Submit reads one notebook inside the server's root folder: no absolute paths,
no "..", no link that leads out of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import urllib.parse

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

URL_ENV = "LABHUB_SUBMISSIONS_URL"
FOLDER_ENV = "LABHUB_ASSIGNMENTS_FOLDER"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
FETCHED_KINDS = ("starter", "visible_tests")  # what students get; an instructor's hidden tests stay put
# The service's own ceiling for an upload (submissions.max_upload); each assignment's limit is its own.
MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
# Per call; a large upload's notebook check takes the service seconds, on a busy machine tens of them.
TIMEOUT_S = 120
# The service's id rule (hub/labhub/submissions/inputs.py): no "/", "%" or "." can reach its URL.
ID = r"([a-z0-9][a-z0-9_-]{0,63})"
SUBMISSION_ID = r"([0-9]{1,12})"
ROUTES_TEXT = ("me, courses/<course>, courses/<course>/<assignment>/{submissions,fetch,submit}, "
               "submissions/<id>/feedback")


class Refused(web.HTTPError):
    """A request this server will not forward; the message says what to send instead."""

    def __init__(self, status: int, message: str):
        super().__init__(status, "%s", message)
        self.message = message


def service_url() -> str:
    url = os.environ.get(URL_ENV, "")
    if not url:
        raise Refused(503, f"assignments are not available: {URL_ENV} is not set, so this server was not "
                           "started by a labhub hub with the submissions service (restart it, or ask an admin)")
    return url.rstrip("/") + "/"


def assignment_api(course: str, assignment: str) -> str:
    return f"api/courses/{course}/assignments/{assignment}"


def service_message(body: bytes, status: int) -> str:
    """The service's own words for a refusal (its errors are {"message": ...})."""
    try:
        message = json.loads(body)["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace").strip()[:300]
    return str(message or f"HTTP {status}")


async def call_service(method: str, path: str, body: bytes | None = None, raw: bool = False):
    """One call to the service with this server's token; its answer as JSON (raw: bytes), or its refusal
    as Refused."""
    base = service_url()
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise Refused(503, f"assignments are not available: {TOKEN_ENV} is not set in this server")
    headers = {"Authorization": f"token {token}"}
    if method == "POST":
        headers["Content-Type"] = "application/octet-stream"
        body = body or b""
    request = HTTPRequest(base + path, method=method, headers=headers, body=body, request_timeout=TIMEOUT_S,
                          follow_redirects=False)
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        if e.code == 599 or e.response is None:  # no answer at all: connection refused, timeout
            raise Refused(502, f"cannot reach the submissions service at {base}: {e.message}") from None
        status = e.code if 400 <= e.code < 600 else 502
        raise Refused(status, service_message(e.response.body, e.code)) from None
    except OSError as e:
        raise Refused(502, f"cannot reach the submissions service at {base}: {e}") from None
    return response.body if raw else json.loads(response.body)


def read_notebook(root: str, path: object, limit: int = MAX_NOTEBOOK_BYTES) -> tuple[str, bytes]:
    """(file name, content) of a notebook at `path` (relative to root), which must stay inside root."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise Refused(400, 'send {"path": "<the notebook, relative to your files>"}')
    if os.path.isabs(path) or path.startswith("~"):
        raise Refused(400, f"{path!r}: give the notebook's path relative to your files, not an absolute one")
    if ".." in path.replace("\\", "/").split("/"):
        raise Refused(400, f"{path!r}: '..' is not allowed; give the notebook's path inside your files")
    if not path.endswith(".ipynb"):
        raise Refused(400, f"{path!r}: only notebooks (.ipynb) can be submitted")
    root_real = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root_real, path))
    if os.path.commonpath([root_real, real]) != root_real:
        raise Refused(400, f"{path!r} leads outside your files (a link?); submit a notebook that is inside them")
    try:
        # O_NOFOLLOW: the link was resolved above, so a link swapped in since is refused;
        # O_NONBLOCK: a FIFO named *.ipynb cannot hang the server.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise Refused(404, f"{path!r} does not exist; save the notebook first") from None
    except OSError as e:
        raise Refused(400, f"{path!r}: cannot be read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Refused(400, f"{path!r} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Refused(413, f"{path!r} is larger than {limit // (1024 * 1024)} MiB; clear large outputs and try again")
    return os.path.basename(path), data


def assignment_folder(home: str, course: str, assignment: str) -> str:
    """~/assignments/<course>/<assignment>, as the hub names the folder (submissions.home_folder)."""
    return os.path.join(home, os.environ.get(FOLDER_ENV) or "assignments", course, assignment)


def target_in(folder: str, name: object) -> str:
    """Where an assignment file goes; a name that would leave its folder is refused."""
    target = os.path.normpath(os.path.join(folder, str(name)))
    if not isinstance(name, str) or os.path.isabs(name) or not target.startswith(folder.rstrip("/") + "/"):
        raise Refused(502, f"the submissions service sent a file name that leaves the assignment folder: {name!r}")
    return target


def write_new(target: str, data: bytes) -> bool:
    """Write a file that does not exist yet; False (and nothing written) if there is one, even a link."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return True


def relative_to_root(root: str, folder: str) -> str | None:
    """The folder as a path among this server's files (what JupyterLab opens), if it is among them."""
    root_real = os.path.realpath(root)
    target = os.path.realpath(folder)
    if os.path.commonpath([root_real, target]) != root_real:
        return None
    rel = os.path.relpath(target, root_real)
    return "" if rel == "." else rel


class _Forward(APIHandler):
    # The panel's calls are not use of the server; the clicks that lead to them are (interaction.ts).
    _track_activity = False

    def reply(self, data) -> None:
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        if not isinstance(error, Refused):
            return super().write_error(status_code, **kwargs)
        self.finish(json.dumps({"message": error.message}))


class MeHandler(_Forward):
    @web.authenticated
    async def get(self):
        self.reply(await call_service("GET", "api/me"))


class AssignmentsHandler(_Forward):
    @web.authenticated
    async def get(self, course):
        self.reply(await call_service("GET", f"api/courses/{course}/assignments"))


class SubmissionsHandler(_Forward):
    @web.authenticated
    async def get(self, course, assignment):
        self.reply(await call_service("GET", f"{assignment_api(course, assignment)}/submissions"))


class FetchHandler(_Forward):
    @web.authenticated
    async def post(self, course, assignment):
        base = assignment_api(course, assignment)
        info = await call_service("GET", base)
        home = os.environ.get("HOME") or os.path.expanduser("~")
        folder = assignment_folder(home, course, assignment)
        written, skipped = [], []
        for f in info.get("files", []):
            if f.get("kind") not in FETCHED_KINDS:
                continue
            target = target_in(folder, f.get("name"))
            if os.path.lexists(target):
                skipped.append(f["name"])
                continue
            data = await call_service("GET", f"{base}/files/{f['kind']}/{urllib.parse.quote(f['name'])}", raw=True)
            (written if await asyncio.to_thread(write_new, target, data) else skipped).append(f["name"])
        self.reply({"folder": os.path.relpath(folder, home), "written": written, "skipped": skipped,
                    "path": relative_to_root(self.contents_manager.root_dir, folder)})


class SubmitHandler(_Forward):
    @web.authenticated
    async def post(self, course, assignment):
        try:
            path = json.loads(self.request.body or b"{}").get("path")
        except (ValueError, AttributeError):
            path = None
        name, data = await asyncio.to_thread(read_notebook, self.contents_manager.root_dir, path)
        query = urllib.parse.urlencode({"filename": name})
        receipt = await call_service("POST", f"{assignment_api(course, assignment)}/submissions?{query}", data)
        self.set_status(201)
        self.reply(receipt)


class FeedbackHandler(_Forward):
    @web.authenticated
    async def get(self, submission):
        self.reply(await call_service("GET", f"api/submissions/{submission}/feedback"))


class NotForwardedHandler(_Forward):
    """Everything else under assignments/: refused, whoever asks (the service is never called)."""

    @web.authenticated
    def prepare_refusal(self, *args):
        raise Refused(404, f"not a call the assignments panel makes; these are: {ROUTES_TEXT}")

    get = post = put = patch = delete = prepare_refusal


def assignment_routes(api: str) -> list[tuple[str, type]]:
    base = url_path_join(api, "assignments")
    one = f"{base}/courses/{ID}/{ID}"
    return [
        (f"{base}/me", MeHandler),
        (f"{base}/courses/{ID}", AssignmentsHandler),
        (f"{one}/submissions", SubmissionsHandler),
        (f"{one}/fetch", FetchHandler),
        (f"{one}/submit", SubmitHandler),
        (f"{base}/submissions/{SUBMISSION_ID}/feedback", FeedbackHandler),
        (f"{base}(?:/.*)?", NotForwardedHandler),
    ]
