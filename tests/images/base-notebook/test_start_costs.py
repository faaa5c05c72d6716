"""What a server start no longer pays for, and that nothing users need went with it.

- TLS: the system store is the hashed folder /etc/ssl/certs, read one certificate at a time when a
  handshake needs it; a TLS context (a server start makes three) parses no bundle when it is made.
  Yet a certificate issued by a CA added the way EXTRA_CA_BUNDLE is (update-ca-certificates) is
  trusted by Python's default context, by aiohttp (which jupyterhub-singleuser talks to the hub with)
  and by requests/pip, and one from an unknown CA is refused.
- Kernel specs: found without importing IPython, the user's own folder first.
"""

from __future__ import annotations

import json

from tests.images.conftest import docker_run

CONTEXT_COST = """
import json, ssl, sys
stats = ssl.create_default_context().cert_store_stats()
import aiohttp  # makes its two default contexts at import
print(json.dumps({"certs_parsed": stats["x509"], "cafile": ssl.get_default_verify_paths().cafile}))
"""

# As root in a throw-away container: a test CA joins the system store the way the image build adds
# EXTRA_CA_BUNDLE, a second CA stays unknown; a TLS server on localhost shows a certificate of each.
TRUST = r"""
set -e
cd /tmp
mk() {  # mk NAME: a CA NAME-ca and a localhost certificate it issued, on port $2
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=labhub test $1 CA" \
    -keyout $1-ca.key -out $1-ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout $1.key -out $1.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' > san.ext
  openssl x509 -req -in $1.csr -CA $1-ca.crt -CAkey $1-ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out $1.crt 2>/dev/null
  python3 -c "
import http.server, ssl, threading
srv = http.server.HTTPServer(('127.0.0.1', $2), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('$1.crt', '$1.key')
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()" >/dev/null 2>&1 &
}
mk trusted 8443
mk unknown 8444
cp trusted-ca.crt /usr/local/share/ca-certificates/labhub-test-ca.crt
update-ca-certificates >/dev/null 2>&1
python3 - <<'EOF'
import socket, time
deadline = time.monotonic() + 60
for port in (8443, 8444):  # both servers listen before anyone is asked
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the test TLS server on {port} never listened")
            time.sleep(0.1)
EOF
python3 - <<'EOF'
import asyncio, json, ssl, urllib.request
import aiohttp, requests

def stdlib(url):
    urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10).read()

async def with_aiohttp(url):
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        await r.read()

def verdicts(call):
    out = {}
    for port in (8443, 8444):
        try:
            call(f"https://localhost:{port}/")
            out[port] = "ok"
        except Exception as e:  # a refused certificate, or anything else by its name
            out[port] = "certificate refused" if "CERTIFICATE_VERIFY_FAILED" in repr(e) else type(e).__name__
    return out

print(json.dumps({"stdlib": verdicts(stdlib),
                  "aiohttp": verdicts(lambda url: asyncio.run(with_aiohttp(url))),
                  "requests": verdicts(lambda url: requests.get(url, timeout=10))}))
EOF
"""

KERNEL_DIRS = """
import json, sys
from traitlets.config.loader import PyFileConfigLoader
from jupyter_server.serverapp import ServerApp
config = PyFileConfigLoader("jupyter_server_config.py", "/etc/jupyter").load_config()
ksm = ServerApp(config=config).kernel_spec_manager_class(config=config)
print(json.dumps({"dirs": ksm.kernel_dirs, "specs": sorted(ksm.find_kernel_specs()),
                  "ipython_imported": "IPython" in sys.modules}))
"""


def test_making_a_tls_context_parses_no_certificate_bundle(image):
    found = json.loads(docker_run(image, f"python -c '{CONTEXT_COST}'").strip().splitlines()[-1])
    assert found == {"certs_parsed": 0, "cafile": None}, (
        "a TLS context loads the whole CA bundle again: see the ca-certificates step of images/base-notebook/Dockerfile")


def test_a_ca_in_the_system_store_is_trusted_and_an_unknown_one_is_not(image):
    out = docker_run(image, TRUST, "--user", "0", timeout=120)
    found = json.loads(out.strip().splitlines()[-1])
    for client, verdict in found.items():
        assert verdict["8443"] == "ok", f"{client} does not trust a CA of the system store: {verdict}"
        assert verdict["8444"] == "certificate refused", f"{client} did not refuse a certificate of an unknown CA: {verdict}"


def test_kernel_specs_are_found_without_importing_ipython(image):
    found = json.loads(docker_run(image, f"python -c '{KERNEL_DIRS}'").strip().splitlines()[-1])
    assert found["dirs"][0] == "/home/jovyan/.local/share/jupyter/kernels"  # a user's own kernels come first
    assert "/opt/venv/share/jupyter/kernels" in found["dirs"]
    assert "python3" in found["specs"]
    assert found["ipython_imported"] is False
