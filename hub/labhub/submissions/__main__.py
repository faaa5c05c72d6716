"""`python -m labhub.submissions`: the submissions service, as started by the hub (managed service)."""

from __future__ import annotations

import asyncio
import contextlib

from .app import main

if __name__ == "__main__":
    # The hub stops its services with SIGINT, then SIGTERM: both end the service quietly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
