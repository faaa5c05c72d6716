# JupyterHub configuration for labhub: load the admin's validated settings and wire labhub's classes.
# Everything an admin sets lives in the settings file ($LABHUB_CONFIG) and spawner_profiles/.
import sys

from labhub.errors import ConfigError
from labhub.hubconfig import configure
from labhub.settings import load_settings

try:
    configure(c, load_settings())  # noqa: F821 - `c` is provided by JupyterHub
except ConfigError as e:
    # One line that names the cause, not a traceback.
    print(f"labhub: configuration error: {e}", file=sys.stderr)
    sys.exit(2)
