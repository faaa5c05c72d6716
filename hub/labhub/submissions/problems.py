"""The one error type of the service: an HTTP status and a message that says what to do.

A tornado HTTPError, so a Problem raised anywhere below a handler becomes that status and message.
"""

from __future__ import annotations

from tornado.web import HTTPError


class Problem(HTTPError):
    def __init__(self, status: int, message: str):
        super().__init__(status, "%s", message)
        self.status = status
        self.message = message


def bad_request(message: str) -> Problem:
    return Problem(400, message)


def forbidden(message: str) -> Problem:
    return Problem(403, message)


def not_found(message: str) -> Problem:
    return Problem(404, message)
