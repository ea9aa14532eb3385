# Restart a systemd unit and wait until its health URL answers (python3 -c, run by the control_plane role's
# handlers on a control plane of several hosts, one host at a time): argv unit url want seconds.
# Standard library only; the URL is on 127.0.0.1. An HTTPS URL is not verified (only whether it answers).
import json
import ssl
import subprocess
import sys
import time
import urllib.request

unit, url, want, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
subprocess.run(["systemctl", "daemon-reload"], check=True)
subprocess.run(["systemctl", "restart", unit], check=True)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
deadline = time.monotonic() + seconds
last = None
while True:
    try:
        body = urllib.request.urlopen(url, timeout=5, context=ctx).read().decode()
        try:
            last = json.loads(body).get("health")
        except ValueError:
            last = body.strip()
        if last == want:
            print("%s restarted, %s says %s" % (unit, url, last))
            break
    except OSError as e:
        last = str(e)
    if time.monotonic() > deadline:
        sys.exit("%s restarted but %s did not say %s within %d s (last: %s)" % (unit, url, want, seconds, last))
    time.sleep(2)
