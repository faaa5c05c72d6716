"""The web pages under /services/submissions/ (hub OAuth login; forms carry the XSRF token)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from tornado import web

from ..units import format_size
from .core import parse_submission_id
from .handlers import BaseHandler
from .inputs import AssignmentSpec, CourseSpec, parse_model
from .problems import bad_request

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_templates.filters["size"] = format_size

NOTES = {
    "submitted": "Submitted. This is your receipt: the server's time and the hash of what it stored.",
    "course": "Course created.",
    "assignment": "Assignment created.",
    "released": "Assignment released: students can see it now.",
    "files": "Files uploaded.",
    "graded": "Autograding started: results appear below as each run finishes (reload the page).",
    "feedback": "Feedback released: each student can see the feedback on their own submission.",
}


class PageHandler(BaseHandler):
    def render_page(self, template: str, **values) -> None:
        caller = self.caller
        prefix = self.settings["prefix"]
        html = _templates.get_template(template).render(
            prefix=prefix, hub_url=self.settings["hub_prefix"], user=caller, xsrf=self.xsrf_token.decode(),
            note=NOTES.get(self.get_query_argument("note", "")), quote=quote, **values)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def write_error(self, status_code: int, **kwargs) -> None:
        message = self.error_message(kwargs.get("exc_info"))
        html = _templates.get_template("error.html").render(
            prefix=self.settings["prefix"], hub_url=self.settings["hub_prefix"], user=None,
            status=status_code, message=message)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)

    def back(self, path: str, note: str) -> None:
        self.redirect(f"{self.settings['prefix']}{path}?{urlencode({'note': note})}")

    def assignment_path(self, course: str, assignment: str) -> str:
        return f"courses/{quote(course)}/{quote(assignment)}/"


class IndexPage(PageHandler):
    @web.authenticated
    def get(self):
        self.render_page("index.html", courses=self.lab.courses(self.caller))


class CoursesPage(PageHandler):
    @web.authenticated
    def post(self):
        spec = parse_model(CourseSpec, {"id": self.get_body_argument("id", ""), "title": self.get_body_argument("title", "")})
        course = self.lab.create_course(self.caller, spec)
        self.back(f"courses/{quote(course['id'])}/", "course")


class CoursePage(PageHandler):
    @web.authenticated
    def get(self, course):
        caller = self.caller
        assignments = self.lab.assignments(caller, course)
        profiles = [p for p in self.lab.profiles.profiles if not p.uses_gpu]
        self.render_page("course.html", course=self.lab.store.course(course), role=caller.role_in(course),
                         assignments=assignments, profiles=profiles, grading=self.lab.settings.grading)

    @web.authenticated
    def post(self, course):
        """Create an assignment from the form, with its files."""
        arg = self.get_body_argument
        offset = _number(arg("tz_offset_minutes", "0"), "time zone offset")
        data = {
            "id": arg("id", ""), "title": arg("title", ""),
            "deadline": _local_time(arg("deadline", ""), int(offset), "deadline"),
            "late_policy": arg("late_policy", "refuse"), "late_penalty": _number(arg("late_penalty", "0"), "late penalty") / 100,
        }
        if arg("release_now", ""):
            data["release_at"] = datetime.now(timezone.utc)
        for name in ("max_upload", "profile", "time_limit", "memory"):
            if arg(name, ""):
                data[name] = arg(name)
        spec = parse_model(AssignmentSpec, data)
        caller = self.caller
        # Check the files before creating the assignment, so a bad file does not leave half of it.
        files = [(kind, self.lab.checked_file(kind, name, body), body)
                 for kind, name, body in _uploaded_files(self.request.files)]
        self.lab.create_assignment(caller, course, spec)
        for kind, name, body in files:
            self.lab.put_file(caller, course, spec.id, kind, name, body)
        self.back(self.assignment_path(course, spec.id), "assignment")


class AssignmentPage(PageHandler):
    @web.authenticated
    def get(self, course, assignment):
        caller = self.caller
        view = self.lab.assignment(caller, course, assignment)
        role = caller.role_in(course)
        all_versions = self.get_query_argument("all", "") == "1"
        submissions = self.lab.submissions(caller, course, assignment, all_versions=all_versions)
        self.render_page("assignment.html", a=view, role=role, submissions=submissions, all_versions=all_versions,
                         home_folder=self.lab.settings.home_folder)


class SubmitPage(PageHandler):
    @web.authenticated
    async def post(self, course, assignment):
        uploads = self.request.files.get("notebook") or []
        if len(uploads) != 1:
            raise bad_request("choose one notebook (.ipynb) to submit")
        receipt = await self.lab.submit_async(self.caller, course, assignment, uploads[0]["filename"],
                                              uploads[0]["body"], via="web")
        # To the receipt's own page, so reloading it cannot submit twice.
        self.redirect(f"{self.settings['prefix']}submissions/{receipt['id']}?note=submitted", status=303)


class FetchPage(PageHandler):
    @web.authenticated
    async def post(self, course, assignment):
        result = await self.lab.fetch(self.caller, course, assignment)
        self.render_page("fetched.html", course=course, assignment=assignment, result=result)


class ActionPage(PageHandler):
    """Instructor buttons on the assignment page."""

    @web.authenticated
    def post(self, course, assignment, action):
        caller, lab = self.caller, self.lab
        if action == "release":
            lab.release(caller, course, assignment)
        elif action == "grade":
            lab.grade(caller, course, assignment)
        elif action == "feedback":
            lab.release_feedback(caller, course, assignment)
        elif action == "files":
            for kind, name, body in _uploaded_files(self.request.files):
                lab.put_file(caller, course, assignment, kind, name, body)
        else:
            raise web.HTTPError(404)
        self.back(self.assignment_path(course, assignment), {"release": "released", "grade": "graded"}.get(action, action))


class SubmissionPage(PageHandler):
    @web.authenticated
    def get(self, submission_id):
        sid = parse_submission_id(submission_id)
        caller = self.caller
        receipt = self.lab.submission(caller, sid)
        try:
            feedback = self.lab.feedback(caller, sid)["grading"]
        except web.HTTPError as e:
            if e.status_code != 403:
                raise
            feedback = None
        self.render_page("submission.html", s=receipt, feedback=feedback, role=caller.role_in(receipt["course"]))


def _number(value: str, what: str) -> float:
    try:
        return float(value or 0)
    except ValueError:
        raise bad_request(f"{what}: {value!r} is not a number") from None


def _local_time(value: str, offset_minutes: int, what: str) -> str:
    """A datetime-local value from the form, with the browser's UTC offset (JavaScript's sign)."""
    if not value:
        raise bad_request(f"{what}: required")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{what}: {value!r} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone(-timedelta(minutes=offset_minutes)))
    return parsed.isoformat()


def _uploaded_files(files: dict) -> list[tuple[str, str, bytes]]:
    found = []
    for field, kind in (("starter", "starter"), ("visible_tests", "visible_tests"), ("hidden_tests", "hidden_tests")):
        for upload in files.get(field, []):
            if upload["filename"]:
                found.append((kind, upload["filename"], upload["body"]))
    return found


def page_routes(prefix: str) -> list[tuple[str, type]]:
    return [
        (prefix, IndexPage),
        (f"{prefix}courses", CoursesPage),
        (f"{prefix}courses/([^/]+)/", CoursePage),
        (f"{prefix}courses/([^/]+)/([^/]+)/", AssignmentPage),
        (f"{prefix}courses/([^/]+)/([^/]+)/submit", SubmitPage),
        (f"{prefix}courses/([^/]+)/([^/]+)/fetch", FetchPage),
        (f"{prefix}courses/([^/]+)/([^/]+)/(release|grade|feedback|files)", ActionPage),
        (f"{prefix}submissions/([^/]+)", SubmissionPage),
    ]
