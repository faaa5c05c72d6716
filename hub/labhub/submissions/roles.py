"""Who may do what in a course, from the user's hub groups.

- `instructors`: instructor of every course, and may create courses;
- `instructors-<course>`: instructor of that course;
- `course-<course>`: student of that course.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["instructor", "student"]
ALL_COURSES_GROUP = "instructors"


def instructors_group(course: str) -> str:
    return f"instructors-{course}"


def students_group(course: str) -> str:
    return f"course-{course}"


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request: the name and groups the hub vouched for."""

    name: str
    groups: frozenset[str]

    @classmethod
    def from_hub_model(cls, model: dict) -> Caller:
        return cls(name=model["name"], groups=frozenset(model.get("groups") or ()))

    @property
    def may_create_courses(self) -> bool:
        return ALL_COURSES_GROUP in self.groups

    def role_in(self, course: str) -> Role | None:
        if ALL_COURSES_GROUP in self.groups or instructors_group(course) in self.groups:
            return "instructor"
        if students_group(course) in self.groups:
            return "student"
        return None
