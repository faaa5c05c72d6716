"""The one error type of the service: an HTTP status and a message that says what to do."""

from __future__ import annotations


class Problem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> Problem:
    return Problem(400, message)


def forbidden(message: str) -> Problem:
    return Problem(403, message)


def not_found(message: str) -> Problem:
    return Problem(404, message)
