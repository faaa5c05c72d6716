"""The grading checker: runs in its own container, never in the one that runs student code.

Started by the sandbox as `python checker.py job.json`. It connects to the student's kernel (another
container, over the Jupyter protocol on unix sockets in a shared folder), has nbclient execute the
notebook there, then runs the instructor's test functions *here*. A test only ever receives JSON values
from the student's kernel (`nb.eval`, `nb.call`, `nb.run`) and decides pass/fail in this process, so
nothing the notebook does can make a test pass except returning the right values. The result goes to
this container's stdout, one JSON line each time it changes (the service reads the last one from
Docker's log); everything else this process prints is sent to stderr.

Standalone on purpose (nbclient, jupyter_client, nbformat and the standard library only): it is mounted
read-only into the assignment's image, which has no labhub package.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import sys
import time
import traceback
from queue import Empty

MAX_TEXT = 1_000_000  # bytes of student output kept per call
MESSAGE_LIMIT = 2000
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class TimeLimit(Exception):
    """A call into the student's kernel ran past the test's time."""


class KernelDied(Exception):
    """The student's kernel is gone (out of memory, or it exited)."""


class StudentError(Exception):
    """The student's code raised an exception while a test asked it for something."""

    def __init__(self, ename: str, evalue: str):
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue = ename, evalue


def points(value: float):
    """Decorator for test functions: how many points the test is worth (default 1)."""

    def mark(fn):
        fn.points = float(value)
        return fn

    return mark


# --- the notebook, executed by nbclient in the student's kernel -----------------------------------

async def run_notebook(nb, connection: dict, time_limit: float, startup_timeout: float):
    """Runs the notebook's cells; the time limit counts from when the kernel answers.

    Returns (status, cell errors, message, deadline)."""
    from jupyter_client.asynchronous import AsyncKernelClient
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    class ErrorsOnly(NotebookClient):
        """Keeps only error outputs: the checker does not need (or store) what the notebook prints."""

        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] != "error":
                return None
            import nbformat

            content = msg["content"]
            out = nbformat.v4.new_output("error", ename=str(content.get("ename", ""))[:200],
                                         evalue=str(content.get("evalue", ""))[:MESSAGE_LIMIT], traceback=[])
            outs.append(out)
            return out

    kc = AsyncKernelClient()
    kc.load_connection_info(connection)
    kc.start_channels()
    try:
        try:
            await kc.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            return "error", [], "the notebook's kernel did not start", time.monotonic()
        deadline = time.monotonic() + time_limit
        client = ErrorsOnly(nb, allow_errors=True, record_timing=False, iopub_timeout=10)
        client.kc = kc
        cells = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                return "time_limit", cells, f"the notebook did not finish in time (stopped before cell {index + 1})", deadline
            client.timeout = int(remaining)
            try:
                await client.async_execute_cell(cell, index)
            except CellTimeoutError:
                return "time_limit", cells, f"cell {index + 1} was still running at the time limit", deadline
            except DeadKernelError:
                return "kernel_died", cells, f"the kernel died while running cell {index + 1}", deadline
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    cells.append({"cell": index + 1, "error": f"{out['ename']}: {out['evalue']}"})
        return "ok", cells, "", deadline
    finally:
        kc.stop_channels()


# --- the tests, run here against the kernel ----------------------------------------------------------

class StudentKernel:
    """What a test sees of the student's notebook: values in, JSON values out."""

    def __init__(self, kc):
        self._kc = kc
        self.deadline = time.monotonic()
        self.stuck = False

    def eval(self, expression: str):
        """The JSON value of `expression` evaluated in the notebook (lists, dicts, numbers, strings)."""
        return self._value(expression, expression)

    def call(self, function: str, *args, **kwargs):
        """function(*args, **kwargs) in the notebook; arguments and result travel as JSON."""
        if not NAME.match(function):
            raise ValueError(f"not a function name: {function!r}")
        payload = json.dumps([args, kwargs])
        return self._value(f"(lambda a: {function}(*a[0], **a[1]))(__import__('json').loads({payload!r}))",
                           f"{function}(...)")

    def _value(self, expression: str, label: str):
        text = self._execute(f"__import__('json').dumps({expression})", want_result=True)
        try:
            return json.loads(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError):
            raise StudentError("ValueError", f"{label} did not give a JSON value") from None

    def run(self, code: str) -> str:
        """Runs code in the notebook; returns what it printed."""
        return self._execute(code, want_result=False)

    def defined(self, name: str) -> bool:
        if not NAME.match(name):
            raise ValueError(f"not a name: {name!r}")
        return bool(self.eval(f"{name.split('.')[0]!r} in globals()"))

    def _execute(self, code: str, want_result: bool) -> str:
        if self.stuck:
            raise TimeLimit("the kernel is still busy with an earlier test")
        kc = self._kc
        msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False, stop_on_error=False)
        stdout, result, error = [], None, None
        size = 0
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self._interrupt(msg_id)
                raise TimeLimit("time limit")
            try:
                msg = kc.get_iopub_msg(timeout=min(1.0, remaining))
            except Empty:
                if not kc.is_alive():
                    raise KernelDied("the kernel died") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout" and size < MAX_TEXT:
                stdout.append(str(content.get("text", ""))[: MAX_TEXT - size])
                size += len(stdout[-1])
            elif kind == "execute_result":
                result = str((content.get("data") or {}).get("text/plain", ""))[:MAX_TEXT]
            elif kind == "error":
                error = (str(content.get("ename", ""))[:200], str(content.get("evalue", ""))[:MESSAGE_LIMIT])
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        self._drain_reply(msg_id)
        if error:
            raise StudentError(*error)
        if want_result:
            if result is None:
                raise StudentError("ValueError", "no value came back")
            return result
        return "".join(stdout)

    def _drain_reply(self, msg_id: str, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self._kc.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            except Empty:
                return
            if msg["parent_header"].get("msg_id") == msg_id:
                return

    def _interrupt(self, msg_id: str) -> None:
        kc = self._kc
        kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"].get("execution_state") == "idle"):
                self._drain_reply(msg_id)
                return
        self.stuck = True


def collect_tests(specs: list[dict]) -> list[dict]:
    """Test functions (test_*) of each file in the order they are defined."""
    tests = []
    for spec in specs:
        with open(spec["file"], encoding="utf-8") as f:
            source = f.read()
        namespace = {"__name__": spec["module"], "points": points}
        exec(compile(source, spec["module"] + ".py", "exec"), namespace)
        for name, fn in namespace.items():
            if name.startswith("test_") and callable(fn):
                doc = (fn.__doc__ or "").strip().splitlines()
                tests.append({"name": name, "fn": fn, "points": float(getattr(fn, "points", 1.0)),
                              "hidden": bool(spec["hidden"]), "description": doc[0] if doc else ""})
    return tests


def run_tests(tests: list[dict], connection: dict, deadline: float, test_timeout: float) -> str:
    from jupyter_client.blocking import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_info(connection)
    kc.start_channels()
    status = "ok"
    try:
        nb = StudentKernel(kc)
        for test in tests:
            if status != "ok":
                test["message"] = "not run: the kernel died"
                continue
            nb.deadline = min(time.monotonic() + test_timeout, deadline)
            try:
                test["fn"](nb)
            except AssertionError as e:
                test["message"] = f"failed: {e}" if str(e) else "failed"
            except TimeLimit as e:
                test["message"] = f"failed: {e}"
            except KernelDied:
                test["message"] = "failed: the kernel died"
                status = "kernel_died"
            except StudentError as e:
                test["message"] = f"failed: the notebook raised {e}"
            except Exception as e:  # an error in the test itself
                test["message"] = f"failed: {type(e).__name__}: {e}"
            else:
                test["passed"] = True
                test["message"] = "passed"
            test["message"] = test["message"][:MESSAGE_LIMIT]
        try:
            kc.shutdown()
        except Exception:
            pass
    finally:
        kc.stop_channels()
    return status


MAX_CELL_ERRORS = 200  # cell errors kept in the result (a notebook of 60,000 failing cells stays small)


def result_stream():
    """This process's stdout for result lines only: anything else printed (by the tests, by libraries)
    goes to stderr, so it can never be taken for a result."""
    stream = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return stream


def write_result(stream, result: dict) -> None:
    stream.write(json.dumps(result) + "\n")
    stream.flush()


def main(job_path: str) -> int:
    import nbformat

    out = result_stream()
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    result = {"status": "running", "message": "", "cells": [], "tests": []}
    try:
        tests = collect_tests(job["tests"])
    except Exception:
        result.update(status="error", message="the tests could not be loaded:\n" + traceback.format_exc(limit=3))
        write_result(out, result)
        return 0
    for test in tests:
        test.update(passed=False, message="not run")

    def report(status: str, message: str = "") -> None:
        result.update(status=status, message=message,
                      tests=[{k: v for k, v in t.items() if k != "fn"} for t in tests])
        write_result(out, result)

    report("running")  # the test list and points, in case the run is cut short
    nb = nbformat.read(job["notebook"], as_version=4)
    status, cells, message, deadline = asyncio.run(
        run_notebook(nb, job["connection"], job["time_limit"], job.get("startup_timeout", 60)))
    result["cells"] = cells[:MAX_CELL_ERRORS]
    if status == "ok":
        status = run_tests(tests, job["connection"], deadline, job["test_timeout"])
        message = "the kernel died during the tests" if status == "kernel_died" else ""
    report(status, message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
