"""`python -m labhub.tethered <module> [args]`: run a managed service's module so that it ends with its hub.

JupyterHub starts each managed service in a session of its own, so a hub that dies without cleaning up
(SIGKILL, the OOM killer, a host tool) leaves its services running: the restarted hub's services then
find their ports taken and are restarted in a loop, and the old ones run on forever. Here the kernel
is asked to send the service SIGTERM when its parent, the hub, dies (Linux PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1
# The hub's pid, set in the services' environment by register_services.
HUB_PID_ENV = "LABHUB_HUB_PID"


def end_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The hub may have died before the line above took effect; then this service has no hub to serve.
    hub_pid = os.environ.get(HUB_PID_ENV)
    if hub_pid and os.getppid() != int(hub_pid):
        sys.exit(f"labhub: the hub (pid {hub_pid}) that started this service is gone")


def stop_on_interrupt() -> None:
    """The hub stops a service with SIGINT, and waits 30 s before it tries SIGTERM. A hub started in the
    background by a script (`make up`) hands its services SIGINT *ignored* (POSIX: a non-interactive
    shell's `&` jobs ignore it), and Python then installs no handler of its own: restore it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m labhub.tethered <module> [args]")
    end_with_parent()
    stop_on_interrupt()
    module, sys.argv = sys.argv[1], sys.argv[1:]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except KeyboardInterrupt:
        sys.exit(0)  # the hub asked this service to stop: a normal end, not a traceback in the log


if __name__ == "__main__":
    main()
