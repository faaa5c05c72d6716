"""The REST API under /services/submissions/api/ (hub API tokens or the hub's OAuth cookie).

  GET  api/me                                         who you are and your courses
  GET  api/courses                                    your courses        POST {"id", "title"} (instructors)
  GET  api/courses/<c>/assignments                    assignments (students: released ones)
  POST api/courses/<c>/assignments                    create: AssignmentSpec as JSON (instructors)
  GET  api/courses/<c>/assignments/<a>                one assignment      PATCH: AssignmentUpdate as JSON
  POST api/courses/<c>/assignments/<a>/release        release now
  PUT  api/courses/<c>/assignments/<a>/files/<kind>/<name>   upload a starter / visible_tests / hidden_tests file
  GET  api/courses/<c>/assignments/<a>/files/<kind>/<name>   download one (students: not hidden tests)
  POST api/courses/<c>/assignments/<a>/fetch          copy the starter files into your home volume
  POST api/courses/<c>/assignments/<a>/submissions?filename=x.ipynb   submit (body: the notebook)
  GET  api/courses/<c>/assignments/<a>/submissions    yours (students); latest per student, ?all=1 every version
  POST api/courses/<c>/assignments/<a>/grade          autograde the latest submissions (?all=1: every version;
                                                      ?student=<name>, repeatable: only theirs)
  POST api/courses/<c>/assignments/<a>/feedback/release
  GET  api/courses/<c>/assignments/<a>/grades.csv
  GET  api/submissions/<id>  /file  /feedback
"""

from __future__ import annotations

import json

from tornado import web

from .core import parse_submission_id
from .handlers import BaseHandler
from .inputs import AssignmentSpec, AssignmentUpdate, CourseSpec, parse_model
from .problems import bad_request

SUBMIT_PARAMS = {"filename"}


class ApiHandler(BaseHandler):
    def get_login_url(self):
        # An API client gets a 403 with a message instead of a redirect to the login page.
        raise web.HTTPError(403, "authenticate with a hub API token (Authorization: token <token>) or log in")

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data))

    def only_params(self, allowed: set[str]) -> None:
        unexpected = sorted(set(self.request.query_arguments) - allowed)
        if unexpected:
            raise bad_request(
                f"unexpected parameter(s): {', '.join(unexpected)}. The server sets the time and the student "
                f"of a submission; allowed here: {', '.join(sorted(allowed)) or 'none'}"
            )

    def flag(self, name: str) -> bool:
        return self.get_query_argument(name, "0") in ("1", "true", "yes")


class MeHandler(ApiHandler):
    @web.authenticated
    def get(self):
        caller = self.caller
        self.write_json({"name": caller.name, "courses": self.lab.courses(caller),
                         "may_create_courses": caller.may_create_courses})


class CoursesHandler(ApiHandler):
    @web.authenticated
    def get(self):
        self.write_json(self.lab.courses(self.caller))

    @web.authenticated
    def post(self):
        self.write_json(self.lab.create_course(self.caller, parse_model(CourseSpec, self.request.body)), 201)


class AssignmentsHandler(ApiHandler):
    @web.authenticated
    def get(self, course):
        self.write_json(self.lab.assignments(self.caller, course))

    @web.authenticated
    def post(self, course):
        spec = parse_model(AssignmentSpec, self.request.body)
        self.write_json(self.lab.create_assignment(self.caller, course, spec), 201)


class AssignmentHandler(ApiHandler):
    @web.authenticated
    def get(self, course, assignment):
        self.write_json(self.lab.assignment(self.caller, course, assignment))

    @web.authenticated
    def patch(self, course, assignment):
        change = parse_model(AssignmentUpdate, self.request.body)
        self.write_json(self.lab.update_assignment(self.caller, course, assignment, change))


class ReleaseHandler(ApiHandler):
    @web.authenticated
    def post(self, course, assignment):
        self.write_json(self.lab.release(self.caller, course, assignment))


class FileHandler(ApiHandler):
    @web.authenticated
    def get(self, course, assignment, kind, name):
        row, data = self.lab.file(self.caller, course, assignment, kind, name)
        self.send_file(row["name"], data)

    @web.authenticated
    def put(self, course, assignment, kind, name):
        self.write_json(self.lab.put_file(self.caller, course, assignment, kind, name, self.request.body), 201)


class FetchHandler(ApiHandler):
    @web.authenticated
    async def post(self, course, assignment):
        result = await self.lab.fetch(self.caller, course, assignment)
        self.write_json({"folder": result.folder, "written": result.written, "skipped": result.skipped})


class SubmissionsHandler(ApiHandler):
    @web.authenticated
    def get(self, course, assignment):
        self.only_params({"all"})
        self.write_json(self.lab.submissions(self.caller, course, assignment, all_versions=self.flag("all")))

    @web.authenticated
    async def post(self, course, assignment):
        self.only_params(SUBMIT_PARAMS)
        uploads = self.request.files.get("notebook") or []
        if uploads:
            if len(uploads) != 1 or set(self.request.files) != {"notebook"}:
                raise bad_request("send exactly one file, in the form field 'notebook'")
            filename, data = uploads[0]["filename"], uploads[0]["body"]
        else:
            filename, data = self.get_query_argument("filename", ""), self.request.body
            if not filename:
                raise bad_request("name the notebook: POST ...?filename=homework.ipynb with the notebook as the body")
        receipt = await self.lab.submit_async(self.caller, course, assignment, filename, data, via="api")
        self.write_json(receipt, 201)


class GradeHandler(ApiHandler):
    @web.authenticated
    def post(self, course, assignment):
        self.only_params({"all", "student"})
        queued = self.lab.grade(self.caller, course, assignment, all_versions=self.flag("all"),
                                students=self.get_query_arguments("student"))
        self.write_json({"queued": len(queued), "gradings": queued}, 202)


class FeedbackReleaseHandler(ApiHandler):
    @web.authenticated
    def post(self, course, assignment):
        self.write_json(self.lab.release_feedback(self.caller, course, assignment))


class GradesCsvHandler(ApiHandler):
    @web.authenticated
    async def get(self, course, assignment):
        text = await self.lab.grades_csv(self.caller, course, assignment)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{course}-{assignment}-grades.csv"')
        self.finish(text)


class SubmissionHandler(ApiHandler):
    @web.authenticated
    def get(self, submission_id):
        self.write_json(self.lab.submission(self.caller, parse_submission_id(submission_id)))


class SubmissionFileHandler(ApiHandler):
    @web.authenticated
    def get(self, submission_id):
        filename, data = self.lab.submission_file(self.caller, parse_submission_id(submission_id))
        self.send_file(filename, data)


class FeedbackHandler(ApiHandler):
    @web.authenticated
    def get(self, submission_id):
        self.write_json(self.lab.feedback(self.caller, parse_submission_id(submission_id)))


def api_routes(prefix: str) -> list[tuple[str, type]]:
    a = f"{prefix}api/courses/([^/]+)/assignments/([^/]+)"
    return [
        (f"{prefix}api/me", MeHandler),
        (f"{prefix}api/courses", CoursesHandler),
        (f"{prefix}api/courses/([^/]+)/assignments", AssignmentsHandler),
        (a, AssignmentHandler),
        (f"{a}/release", ReleaseHandler),
        (f"{a}/files/([^/]+)/(.+)", FileHandler),
        (f"{a}/fetch", FetchHandler),
        (f"{a}/submissions", SubmissionsHandler),
        (f"{a}/grade", GradeHandler),
        (f"{a}/feedback/release", FeedbackReleaseHandler),
        (f"{a}/grades.csv", GradesCsvHandler),
        (f"{prefix}api/submissions/([^/]+)", SubmissionHandler),
        (f"{prefix}api/submissions/([^/]+)/file", SubmissionFileHandler),
        (f"{prefix}api/submissions/([^/]+)/feedback", FeedbackHandler),
    ]
