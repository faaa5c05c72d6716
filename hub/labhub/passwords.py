"""Password hashes for the lab's native accounts (the sign-up, login and password pages, and class
rosters): bcrypt, computed in a small pool of threads, never on the hub's event loop (0.3 s a hash)."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import bcrypt

# bcrypt releases the GIL. Half the cores (at least 2) hash at once: a class logging in together is
# served in parallel, and a flood of logins never takes every core from the rest of the hub.
_HASH_POOL = ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) // 2), thread_name_prefix="labhub-bcrypt")


async def hashing(fn, *args):
    """`fn(*args)` (hash_password, password_matches) in the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, fn, *args)


def hash_password(password: str) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt())


def password_matches(password: str, hashed: bytes) -> bool:
    return bcrypt.checkpw(password.encode(), hashed)
