"""A stand-in for kube-proxy's view of a Service: polls `GET /readyz` of each pod every 100 ms and
keeps the list of ready ones in a JSON file (replaced atomically on every change).

    python endpoints.py OUT_FILE URL...

It runs as a process of its own because the test's load threads keep the test process's GIL busy:
in there a readiness check took up to a second, longer than the pods' pre-stop pause. It exits
when its standard input closes (when the test stops it or dies)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

INTERVAL = 0.1
# Like a kubelet probe's timeoutSeconds: a pod that cannot answer in time is not ready.
TIMEOUT = 0.5


def main(out: str, urls: list[str]) -> None:
    ready = {url: False for url in urls}
    lock = threading.Lock()

    def publish() -> None:
        with lock:
            staging = f"{out}.{os.getpid()}.tmp"
            with open(staging, "w") as f:
                json.dump({"at": time.time(), "ready": [u for u in urls if ready[u]]}, f)
            os.replace(staging, out)

    def watch(url: str) -> None:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=TIMEOUT) as response:
                    ok = response.status == 200
            except (urllib.error.URLError, OSError, ValueError):
                ok = False
            if ready[url] != ok:
                ready[url] = ok
                publish()
            time.sleep(INTERVAL)

    publish()
    for url in urls:
        threading.Thread(target=watch, args=(url,), daemon=True).start()
    sys.stdin.read()  # until the parent closes it


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
