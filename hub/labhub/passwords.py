"""Password hashes for the lab's native accounts (the sign-up, login and password pages, and class
rosters): bcrypt, computed in a small pool of threads, never on the hub's event loop (0.3 s a hash at
the default work factor)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import bcrypt

# bcrypt's own default, and NativeAuthenticator's: 2**12 rounds, ~0.28 CPU-s a hash on a 2-core VM
# of 2026. Each step down halves a login's CPU, and an attacker's cost of guessing from a stolen hash.
DEFAULT_WORK_FACTOR = 12

# bcrypt releases the GIL. Half the cores (at least 2) hash at once: a class logging in together is
# served in parallel, and a flood of logins never takes every core from the rest of the hub.
_HASH_POOL = ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) // 2), thread_name_prefix="labhub-bcrypt")


async def hashing(fn, *args):
    """`fn(*args)` (hash_password, password_matches) in the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, fn, *args)


def hash_password(password: str, work_factor: int = DEFAULT_WORK_FACTOR) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=work_factor))


def work_factor_of(hashed: bytes) -> int | None:
    """The work factor a bcrypt hash was made with (b"$2b$12$..." -> 12); None if it is no bcrypt hash."""
    parts = hashed.split(b"$")
    return int(parts[2]) if len(parts) == 4 and parts[2].isdigit() else None


def password_matches(password: str, hashed: bytes) -> bool:
    return bcrypt.checkpw(password.encode(), hashed)
