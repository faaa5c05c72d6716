"""On an https lab the hub sets JUPYTERHUB_COOKIE_OPTIONS='{"secure": true}' in the container: the
server's _xsrf cookie is then Secure too (the browser test tests/browser/test_https.py sees it)."""

from __future__ import annotations

import json

from tests.images.conftest import docker_run

SERVER_SETTINGS = """
from traitlets.config.loader import PyFileConfigLoader
from jupyter_server.serverapp import ServerApp
import json
config = PyFileConfigLoader("jupyter_server_config.py", "/etc/jupyter").load_config()
print(json.dumps(ServerApp(config=config).tornado_settings))
"""


def test_the_servers_xsrf_cookie_is_secure_on_an_https_lab_only(image):
    on = docker_run(image, f"python -c '{SERVER_SETTINGS}'", "-e", 'JUPYTERHUB_COOKIE_OPTIONS={"secure": true}')
    assert json.loads(on) == {"xsrf_cookie_kwargs": {"secure": True}}
    off = docker_run(image, f"python -c '{SERVER_SETTINGS}'")
    assert json.loads(off) == {}
