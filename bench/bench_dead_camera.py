"""Benchmark: does a camera that never answers slow OctoPrint down?

Usage::

    .venv/bin/python bench/bench_dead_camera.py              # 8 pollers, 8 s per phase
    .venv/bin/python bench/bench_dead_camera.py --pollers 16 --seconds 15

Starts a real ``octoprint serve`` (virtual printer, this plugin) whose camera is a TCP
server that accepts connections and never answers, then measures how long
``GET /api/printer`` takes, side by side in one run:

1. baseline: nobody asks for the live score;
2. attack: ``--pollers`` clients (half the admin, half a read-only user) ask for
   ``score`` as fast as they can.

Printed: median, p90 and max of the ``/api/printer`` latency per phase, and how the score
requests were answered (HTTP status counts). OctoPrint serves every request from a pool of
a few threads (6 on 2 cores); before the live score got one grab at a time, a deadline and
a rate limit, 8 pollers made ``/api/printer`` take about 5 s.
"""

import argparse
import collections
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.octoserver import OctoPrintServer, User, add_users, write_config  # noqa: E402

ADMIN_KEY = "bench-dead-camera-admin"
VIEWER_KEY = "bench-dead-camera-viewer"


def silent_camera() -> socket.socket:
    """A listening socket whose connections are accepted and never answered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    held = []

    def accept() -> None:
        while True:
            try:
                held.append(sock.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return sock


def latencies(url: str, seconds: float) -> List[float]:
    session = requests.Session()
    session.headers["X-Api-Key"] = ADMIN_KEY
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        session.get(url + "/api/printer", timeout=60).raise_for_status()
        found.append(time.monotonic() - started)
        time.sleep(0.1)
    return found


def summary(values: List[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return "median %.3f s, p90 %.3f s, max %.3f s (%d requests)" % (
        statistics.median(ordered), p90, ordered[-1], len(ordered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pollers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()

    camera = silent_camera()
    with tempfile.TemporaryDirectory() as tmp:
        basedir = Path(tmp)
        write_config(basedir, {"plugins": {"autofocus": {
            "camera": "custom", "stream_url": "http://127.0.0.1:%d/?action=stream" % camera.getsockname()[1],
            "camera_timeout": 5.0}}})
        add_users(basedir, [User("admin", "admin-password", admin=True, apikey=ADMIN_KEY),
                            User("viewer", "viewer-password", groups=["readonly"], apikey=VIEWER_KEY)])
        with OctoPrintServer(basedir) as server:
            server.wait_operational(ADMIN_KEY)
            baseline = latencies(server.url, args.seconds)
            stop, answers = threading.Event(), collections.Counter()

            def poll(key: str) -> None:
                session = requests.Session()
                session.headers["X-Api-Key"] = key
                while not stop.is_set():
                    reply = session.post(server.url + "/api/plugin/autofocus", json={"command": "score"}, timeout=60)
                    answers[reply.status_code] += 1

            pollers = [threading.Thread(target=poll, args=((ADMIN_KEY, VIEWER_KEY)[i % 2],))
                       for i in range(args.pollers)]
            for thread in pollers:
                thread.start()
            try:
                attack = latencies(server.url, args.seconds)
            finally:
                stop.set()
                for thread in pollers:
                    thread.join(60)
    camera.close()
    counts: Dict[int, int] = dict(sorted(answers.items()))
    print("GET /api/printer, nobody polling the score:      " + summary(baseline))
    print("GET /api/printer, %2d clients polling the score:  %s" % (args.pollers, summary(attack)))
    print("score answers while polling: %s" % ", ".join("%d x %d" % (n, code) for code, n in counts.items()))


if __name__ == "__main__":
    main()
