"""What instructors and students can do, each action checked against the caller's role in the course.

The web pages and the REST API both go through this class, so the rules live in one place. Every
refusal is a Problem with a 4xx status and a message that says what to do.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from ..profiles import Profile, ProfileSet
from ..units import format_size
from .blobs import BlobStore
from .settings import SubmissionsSettings
from .grading import GradingQueue
from .home import FetchResult, HomeWriter
from .inputs import FILE_KINDS, AssignmentSpec, AssignmentUpdate, CourseSpec, check_filename, check_id, check_notebook, iso
from .problems import Problem, bad_request, forbidden, not_found
from .roles import Caller
from .store import TooManyVersions

OUTCOME_TEXT = {
    "graded": "graded",
    "time_limit": "time limit",
    "memory_limit": "memory limit",
    "error": "grading error",
}
CSV_COLUMNS = ["student", "version", "submission_id", "submitted_at", "late", "outcome", "score", "max_score",
               "late_penalty", "final_score"]


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def too_many_versions(assignment_id: str, limit: int) -> Problem:
    return Problem(409, f"you have submitted {limit} versions of {assignment_id!r}, the most this lab keeps per "
                        "student; the latest one is the one that counts. To submit again, ask an admin to raise "
                        "submissions.max_versions_per_student")


class Submissions:
    def __init__(self, settings: SubmissionsSettings, store, blobs: BlobStore, profiles: ProfileSet,
                 queue: GradingQueue | None, home: HomeWriter | None,
                 roster: Callable[[str], Awaitable[list[str]]] | None = None):
        self.settings, self.store, self.blobs, self.profiles = settings, store, blobs, profiles
        self.queue, self.home, self.roster = queue, home, roster
        # Blocking work gets bounded pools of its own, never the loop's shared one: a fetch holds a thread
        # for up to its time limit, checking a large notebook for seconds.
        self._fetch_threads = ThreadPoolExecutor(max_workers=settings.fetch.concurrency, thread_name_prefix="fetch")
        self._check_threads = ThreadPoolExecutor(max_workers=settings.check_concurrency, thread_name_prefix="nbcheck")
        self._fetching: set[str] = set()  # users with a fetch running: one at a time each

    # --- courses ---

    def courses(self, caller: Caller) -> list[dict]:
        return [{"id": c["id"], "title": c["title"], "role": caller.role_in(c["id"])}
                for c in self.store.courses() if caller.role_in(c["id"])]

    def create_course(self, caller: Caller, spec: CourseSpec) -> dict:
        if not caller.may_create_courses:
            raise forbidden("only members of the hub group 'instructors' can create courses")
        if self.store.add_course(spec.id, spec.title, caller.name) is None:
            raise Problem(409, f"a course with id {spec.id!r} exists already")
        return {"id": spec.id, "title": spec.title, "role": caller.role_in(spec.id)}

    def _course(self, caller: Caller, course_id: str) -> tuple[dict, str]:
        check_id(course_id, "course")
        course = self.store.course(course_id)
        role = caller.role_in(course_id)
        if course is None:
            raise not_found(f"no course {course_id!r}")
        if role is None:
            raise forbidden(f"you are not in course {course_id!r} (hub group course-{course_id}); ask its instructor")
        return course, role

    def _instructor(self, caller: Caller, course_id: str) -> dict:
        course, role = self._course(caller, course_id)
        if role != "instructor":
            raise forbidden(f"only instructors of {course_id!r} can do this")
        return course

    # --- assignments ---

    @staticmethod
    def released(assignment: dict, now: float | None = None) -> bool:
        at = assignment["release_at"]
        return at is not None and at <= (time.time() if now is None else now)

    def _assignment(self, caller: Caller, course_id: str, assignment_id: str) -> tuple[dict, str]:
        _, role = self._course(caller, course_id)
        check_id(assignment_id, "assignment")
        assignment = self.store.assignment(course_id, assignment_id)
        if assignment is None or (role == "student" and not self.released(assignment)):
            raise not_found(f"no released assignment {assignment_id!r} in course {course_id!r}")
        return assignment, role

    def _instructor_assignment(self, caller: Caller, course_id: str, assignment_id: str) -> dict:
        assignment, role = self._assignment(caller, course_id, assignment_id)
        if role != "instructor":
            raise forbidden(f"only instructors of {course_id!r} can do this")
        return assignment

    def assignments(self, caller: Caller, course_id: str) -> list[dict]:
        _, role = self._course(caller, course_id)
        now = time.time()
        return [self.assignment_view(a, role, now) for a in self.store.assignments(course_id)
                if role == "instructor" or self.released(a, now)]

    def assignment(self, caller: Caller, course_id: str, assignment_id: str) -> dict:
        assignment, role = self._assignment(caller, course_id, assignment_id)
        return self.assignment_view(assignment, role)

    def assignment_view(self, a: dict, role: str, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        view = {
            "course": a["course"], "id": a["id"], "title": a["title"],
            "released": self.released(a, now), "release_at": iso(a["release_at"]), "deadline": iso(a["deadline"]),
            "late_policy": a["late_policy"], "late_penalty": a["late_penalty"], "max_upload": a["max_upload"],
            "accepting": self.released(a, now) and (now <= a["deadline"] or a["late_policy"] == "accept"),
            "past_deadline": now > a["deadline"], "feedback_released": a["feedback_released_at"] is not None,
        }
        kinds = FILE_KINDS if role == "instructor" else ("starter", "visible_tests")
        files = sorted(self.store.files(a["pk"], kinds), key=lambda f: (FILE_KINDS.index(f["kind"]), f["name"]))
        view["files"] = [{"kind": f["kind"], "name": f["name"], "size": f["size"], "sha256": f["sha256"]} for f in files]
        if role == "instructor":
            view.update(profile=a["profile"], time_limit=a["time_limit"], memory=a["memory"])
        return view

    def _grading_profile(self, slug: str | None) -> Profile:
        cpu = [p for p in self.profiles.profiles if not p.uses_gpu]
        if slug is None:
            profile = next((p for p in cpu if p.default), cpu[0] if cpu else None)
            if profile is None:
                raise bad_request("profile: no CPU profile is configured to grade with; name one")
            return profile
        profile = self.profiles.get(slug)
        if profile is None or profile.uses_gpu:
            names = ", ".join(p.slug for p in cpu) or "none"
            raise bad_request(f"profile: {slug!r} is not a CPU profile of this lab (grading runs on: {names})")
        return profile

    def _checked_values(self, spec, partial: bool) -> dict:
        g = self.settings.grading
        values = {}
        fields = spec.model_fields_set if partial else set(type(spec).model_fields)
        for name in fields:
            value = getattr(spec, name)
            if name in ("deadline", "release_at"):
                value = None if value is None else value.timestamp()
            elif name == "max_upload":
                value = value or self.settings.default_max_upload
                if value > self.settings.max_upload:
                    raise bad_request(f"max_upload: at most {format_size(self.settings.max_upload)} (submissions.max_upload)")
            elif name == "time_limit":
                value = value or g.time_limit
                if value > g.max_time_limit:
                    raise bad_request(f"time_limit: at most {g.max_time_limit} s (submissions.grading.max_time_limit)")
            elif name == "memory":
                value = value or g.memory
                if value > g.max_memory:
                    raise bad_request(f"memory: at most {format_size(g.max_memory)} (submissions.grading.max_memory)")
            elif name == "profile":
                value = self._grading_profile(value).slug
            if partial and value is None and name not in ("release_at",):
                raise bad_request(f"{name}: cannot be empty")
            values[name] = value
        return values

    def create_assignment(self, caller: Caller, course_id: str, spec: AssignmentSpec) -> dict:
        self._instructor(caller, course_id)
        values = self._checked_values(spec, partial=False)
        values.setdefault("feedback_released_at", None)
        if self.store.add_assignment(course_id, values, caller.name) is None:
            raise Problem(409, f"assignment {spec.id!r} exists already in {course_id!r}")
        return self.assignment(caller, course_id, spec.id)

    def update_assignment(self, caller: Caller, course_id: str, assignment_id: str, change: AssignmentUpdate) -> dict:
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        self.store.update_assignment(assignment["pk"], **self._checked_values(change, partial=True))
        return self.assignment(caller, course_id, assignment_id)

    def release(self, caller: Caller, course_id: str, assignment_id: str) -> dict:
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        if not self.released(assignment):
            self.store.update_assignment(assignment["pk"], release_at=time.time())
        return self.assignment(caller, course_id, assignment_id)

    # --- assignment files ---

    def checked_file(self, kind: str, name: str, data: bytes) -> str:
        """The name an assignment file is stored under, after checking it (tests must compile)."""
        if kind not in FILE_KINDS:
            raise bad_request(f"file kind {kind!r}: one of {', '.join(FILE_KINDS)}")
        if len(data) > self.settings.max_upload:
            raise Problem(413, f"{name}: larger than {format_size(self.settings.max_upload)} (submissions.max_upload)")
        if kind == "starter":
            return check_filename(name, allow_dirs=True)
        # One test file per kind; its name in the grader is fixed.
        check_filename(name, suffix=".py")
        try:
            compile(data.decode("utf-8"), name, "exec")
        except UnicodeDecodeError:
            raise bad_request(f"{name}: tests must be UTF-8 Python source") from None
        except SyntaxError as e:
            raise bad_request(f"{name}: Python syntax error at line {e.lineno}: {e.msg}") from None
        return f"{kind}.py"

    def put_file(self, caller: Caller, course_id: str, assignment_id: str, kind: str, name: str, data: bytes) -> dict:
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        name = self.checked_file(kind, name, data)
        digest = self.blobs.put(data)
        self.store.put_file(assignment["pk"], kind, name, digest, len(data))
        return {"kind": kind, "name": name, "size": len(data), "sha256": digest}

    def file(self, caller: Caller, course_id: str, assignment_id: str, kind: str, name: str) -> tuple[dict, bytes]:
        assignment, role = self._assignment(caller, course_id, assignment_id)
        if kind == "hidden_tests" and role != "instructor":
            raise forbidden("hidden tests are for instructors only")
        if kind not in FILE_KINDS:
            raise not_found(f"no file kind {kind!r}")
        row = self.store.file(assignment["pk"], kind, name)
        if row is None:
            raise not_found(f"no {kind} file {name!r} in {assignment_id!r}")
        return row, self.blobs.get(row["sha256"])

    def _starter_files(self, assignment: dict) -> list[tuple[str, object]]:
        rows = self.store.files(assignment["pk"], ("starter", "visible_tests"))
        return [(r["name"], self.blobs.path(r["sha256"])) for r in rows]

    async def fetch(self, caller: Caller, course_id: str, assignment_id: str) -> FetchResult:
        assignment, _ = self._assignment(caller, course_id, assignment_id)
        if self.home is None:
            raise Problem(503, "fetching into homes is not available on this server")
        if caller.name in self._fetching:
            raise Problem(429, "a fetch of yours is still running; wait for it to finish, then try again")
        folder = f"{self.settings.home_folder}/{course_id}/{assignment_id}"
        image = self._grading_profile(assignment["profile"]).image
        files = self._starter_files(assignment)
        self._fetching.add(caller.name)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._fetch_threads, self.home.fetch, caller.name, image, folder, files)
        finally:
            self._fetching.discard(caller.name)

    # --- submissions ---

    def submit(self, caller: Caller, course_id: str, assignment_id: str, filename: str, data: bytes, via: str) -> dict:
        """For callers off the event loop; the service's handlers use submit_async."""
        admitted = self._admit(caller, course_id, assignment_id, filename, data)
        check_notebook(data, admitted["filename"])
        return self._record(caller, admitted, data, via)

    async def submit_async(self, caller: Caller, course_id: str, assignment_id: str, filename: str, data: bytes,
                           via: str) -> dict:
        """Like submit; the notebook check (seconds for a large one) runs on its own bounded pool, so the
        service keeps answering meanwhile. The size is checked before it, on the loop."""
        admitted = self._admit(caller, course_id, assignment_id, filename, data)
        await asyncio.get_running_loop().run_in_executor(self._check_threads, check_notebook, data, admitted["filename"])
        return self._record(caller, admitted, data, via)

    def _admit(self, caller: Caller, course_id: str, assignment_id: str, filename: str, data: bytes) -> dict:
        """The cheap checks of a submission: deadline, name, size, versions kept."""
        now = time.time()  # the server's clock is the only one that counts
        assignment, _ = self._assignment(caller, course_id, assignment_id)
        late = now > assignment["deadline"]
        if late and assignment["late_policy"] != "accept":
            raise forbidden(f"the deadline of {assignment_id!r} ({iso(assignment['deadline'])}) has passed "
                            "and it does not accept late submissions")
        filename = check_filename(filename, suffix=".ipynb")
        if len(data) > assignment["max_upload"]:
            raise Problem(413, f"{filename} is {format_size(len(data))}; {assignment_id!r} accepts at most "
                               f"{format_size(assignment['max_upload'])} (clear large outputs and try again)")
        limit = self.settings.max_versions_per_student
        if self.store.version_count(assignment["pk"], caller.name) >= limit:
            raise too_many_versions(assignment_id, limit)
        return {"assignment": assignment, "filename": filename, "at": now, "late": late}

    def _record(self, caller: Caller, admitted: dict, data: bytes, via: str) -> dict:
        assignment = admitted["assignment"]
        digest = self.blobs.put(data)
        try:
            row = self.store.add_submission(assignment["pk"], caller.name, admitted["filename"], digest, len(data),
                                            admitted["at"], admitted["late"], via,
                                            max_versions=self.settings.max_versions_per_student)
        except TooManyVersions as e:  # a parallel upload took the last one
            raise too_many_versions(assignment["id"], e.limit) from None
        return self.submission_view(row, assignment)

    @staticmethod
    def submission_view(s: dict, a: dict) -> dict:
        return {
            "id": s["id"], "course": a["course"], "assignment": a["id"], "student": s["student"],
            "version": s["version"], "filename": s["filename"], "size": s["size"], "sha256": s["sha256"],
            "submitted_at": iso(s["submitted_at"]), "late": bool(s["late"]),
        }

    def submissions(self, caller: Caller, course_id: str, assignment_id: str, all_versions: bool = False) -> list[dict]:
        assignment, role = self._assignment(caller, course_id, assignment_id)
        if role == "instructor":
            rows = self.store.submissions(assignment["pk"], latest_only=not all_versions)
        else:
            rows = self.store.submissions(assignment["pk"], student=caller.name)
        views = []
        for row in rows:
            view = self.submission_view(row, assignment)
            if role == "instructor":
                grading = self.store.latest_grading(row["id"])
                view["grading"] = None if grading is None else self.grading_view(grading, "instructor")
            views.append(view)
        return views

    def _submission(self, caller: Caller, submission_id: int) -> tuple[dict, dict, str]:
        submission = self.store.submission(submission_id)
        assignment = submission and self.store.assignment_by_pk(submission["assignment"])
        role = assignment and caller.role_in(assignment["course"])
        if submission is None or role is None or (role == "student" and submission["student"] != caller.name):
            # The same answer whether it does not exist or is someone else's.
            raise not_found(f"no submission {submission_id} of yours")
        return submission, assignment, role

    def submission(self, caller: Caller, submission_id: int) -> dict:
        submission, assignment, _ = self._submission(caller, submission_id)
        return self.submission_view(submission, assignment)

    def submission_file(self, caller: Caller, submission_id: int) -> tuple[str, bytes]:
        submission, _, _ = self._submission(caller, submission_id)
        return submission["filename"], self.blobs.get(submission["sha256"])

    # --- grading and feedback ---

    @staticmethod
    def grading_view(g: dict, role: str) -> dict:
        view = {"id": g["id"], "state": g["state"], "outcome": g["outcome"],
                "outcome_text": OUTCOME_TEXT.get(g["outcome"] or "", g["state"]),
                "score": g["score"], "max_score": g["max_score"], "graded_at": iso(g["finished_at"])}
        details = json.loads(g["details"] or "{}")
        tests, hidden_index = [], 0
        for t in details.get("tests", []):
            if role == "instructor" or not t.get("hidden"):
                tests.append(t)
            else:
                # Hidden tests: how many points, and whether they passed. Nothing else.
                hidden_index += 1
                tests.append({"name": f"hidden test {hidden_index}", "hidden": True, "points": t.get("points"),
                              "passed": bool(t.get("passed"))})
        view["tests"] = tests
        view["cells"] = details.get("cells", [])
        if role == "instructor":
            view["message"] = details.get("message", "")
            view["duration"] = details.get("duration")
        elif g["outcome"] in ("time_limit", "memory_limit"):
            view["message"] = details.get("message", "")
        elif g["outcome"] == "error":
            view["message"] = "grading failed; your instructor can see why"
        return view

    def feedback(self, caller: Caller, submission_id: int) -> dict:
        submission, assignment, role = self._submission(caller, submission_id)
        if role != "instructor" and assignment["feedback_released_at"] is None:
            raise forbidden(f"feedback for {assignment['id']!r} is not released yet")
        grading = self.store.latest_grading(submission_id, done_only=True)
        view = {"submission": self.submission_view(submission, assignment), "grading": None}
        if grading is not None:
            view["grading"] = self.grading_view(grading, role)
        return view

    def grade(self, caller: Caller, course_id: str, assignment_id: str, all_versions: bool = False,
              students: list[str] | None = None) -> list[int]:
        """Queue the latest submission of each student (or every version; or only `students`)."""
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        if self.queue is None:
            raise Problem(503, "grading is not available on this server")
        rows = self.store.submissions(assignment["pk"], latest_only=not all_versions)
        if students:
            unknown = sorted(set(students) - {r["student"] for r in rows})
            if unknown:
                raise bad_request(f"no submission of {', '.join(unknown)} for {assignment_id!r}")
            rows = [r for r in rows if r["student"] in students]
        return [self.queue.enqueue(row["id"], caller.name) for row in rows]

    def release_feedback(self, caller: Caller, course_id: str, assignment_id: str) -> dict:
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        if assignment["feedback_released_at"] is None:
            self.store.update_assignment(assignment["pk"], feedback_released_at=time.time())
        return self.assignment(caller, course_id, assignment_id)

    async def grade_rows(self, caller: Caller, course_id: str, assignment_id: str) -> list[dict]:
        """One row per student of the course (and anyone else who submitted): the latest submission."""
        assignment = self._instructor_assignment(caller, course_id, assignment_id)
        latest = {s["student"]: s for s in self.store.submissions(assignment["pk"], latest_only=True)}
        students = set(latest)
        if self.roster is not None:
            students |= set(await self.roster(course_id))
        rows = []
        for student in sorted(students):
            s = latest.get(student)
            g = s and self.store.latest_grading(s["id"], done_only=True)
            row = dict.fromkeys(CSV_COLUMNS, "")
            row["student"] = student
            if s is None:
                row.update(outcome="missing", score="0", final_score="0")
            else:
                penalty = assignment["late_penalty"] if s["late"] else 0.0
                row.update(version=s["version"], submission_id=s["id"], submitted_at=iso(s["submitted_at"]),
                           late="yes" if s["late"] else "no", late_penalty=f"{penalty:g}")
                if g is None:
                    row["outcome"] = "not graded"
                else:
                    row.update(outcome=g["outcome"], score=_score(g["score"]), max_score=_score(g["max_score"]),
                               final_score=_score((g["score"] or 0.0) * (1 - penalty)))
            rows.append(row)
        return rows

    async def grades_csv(self, caller: Caller, course_id: str, assignment_id: str) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(await self.grade_rows(caller, course_id, assignment_id))
        return out.getvalue()


def parse_submission_id(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise not_found(f"no submission {value!r}")
    return int(value)
