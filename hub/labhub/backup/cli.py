"""`labhub backup DIR` and `labhub restore DIR/<snapshot>` (docs/admin.md, "Backup and restore").

  labhub backup DIR [--image IMAGE]            a dated snapshot DIR/<UTC stamp>/ of the running lab
  labhub restore SNAPSHOT [--force] [--image IMAGE]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..settings import CONFIG_ENV, load_settings
from . import BackupError
from .restore import StoppedPartway, restore
from .take import take


def add_commands(sub) -> None:
    backup = sub.add_parser("backup", help="save the lab's state and home volumes into a dated snapshot in DIR")
    backup.add_argument("dir", type=Path, help="folder of the snapshots (created if missing)")
    _helper_options(backup)
    backup.set_defaults(func=_backup)
    rest = sub.add_parser("restore", help="bring a snapshot back (the hub stopped)")
    rest.add_argument("snapshot", type=Path, help="a snapshot folder, DIR/<stamp>")
    rest.add_argument("--force", action="store_true",
                      help="go on while the hub answers, and replace existing state files and non-empty home volumes")
    _helper_options(rest)
    rest.set_defaults(func=_restore)


def _helper_options(parser) -> None:
    parser.add_argument("--image", help="labhub image of the helper containers (default: the first "
                                        "profile image built on this engine)")
    parser.add_argument("--helper-timeout", type=float, default=600, metavar="SECONDS",
                        help="most time a helper may take to list one home volume (default: 600)")


def _settings_file(args) -> str | None:
    path = args.config or os.environ.get(CONFIG_ENV) or None
    return str(Path(path).resolve()) if path else None


def _backup(args) -> int:
    settings = load_settings(args.config)
    try:
        take(settings, args.dir, _settings_file(args), image=args.image, helper_timeout=args.helper_timeout)
    except (BackupError, OSError) as e:
        print(f"labhub backup: {e}", file=sys.stderr)
        return 2
    return 0


def _restore(args) -> int:
    settings = load_settings(args.config)
    try:
        restore(settings, args.snapshot, force=args.force, image=args.image, helper_timeout=args.helper_timeout)
    except (BackupError, OSError) as e:
        print(f"labhub restore: {e}" if isinstance(e, StoppedPartway) else f"labhub restore: {e} (nothing was changed)",
              file=sys.stderr)
        return 2
    return 0
