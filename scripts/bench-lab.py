#!/usr/bin/env python3
"""Real VMs on this machine, measured (issue #15): a lab of three zones (scripts/lab.sh), then

1. boot to ready, one VM at a time: a host agent's `PUT running` to its `ready` (the guest's
   `meridian-ready` line on the serial console), five times;
2. the same for ten VMs started at once on one host: median and worst;
   (the lab has three hosts in each zone, all on this machine's two cores)
3. the agent's resident memory, idle and after the runs;
4. the nine-VM MongoDB stack over the lab's Los Angeles, London and Berlin zones as real VMs,
   through the dashboard's own calls: time to all nine running (each boot waited to its ready line).

Run as root after building (cargo build -p meridian --bin meridian -p meridian-agent):
    scripts/bench-lab.py            # prints the figures; docs/BENCHMARKS.md records them
It brings its own lab up (name mlb, net 10.250.0, port 3960) and down; Python's standard library only.
"""

import http.cookiejar
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = ["--dir", "/tmp/mlb", "--name", "mlb", "--net", "10.250.0"]
ZONES = ["lax1", "lon1", "ber1"]
PORT = 3960
BASE = f"http://127.0.0.1:{PORT}"


def lab(command, *args):
    subprocess.run([os.path.join(REPO, "scripts/lab.sh"), command, *args, *LAB], check=True,
                   stdout=subprocess.DEVNULL)


def agent_call(zone, method, path, body=None):
    """Calls zone's host agent with its host token."""
    token = open(f"/tmp/mlb/{zone}/token").read().strip()
    hosts = open("/tmp/mlb/hosts").read().split()
    address = f"10.250.0.{10 + hosts.index(zone) + 1}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{address}:7100{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "meridian-agent-api": "1", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def boot_to_ready(zone):
    """Starts a fresh VM on zone's agent and waits for its ready line; returns (seconds, image)."""
    vm = str(uuid.uuid4())
    spec = {"id": vm, "name": "bench", "vcpus": 1, "memory_mib": 128, "disk_gib": 1, "address": None,
            "gateway": None, "ssh_authorized_keys": [], "user_data": None}
    agent_call(zone, "PUT", f"/v1/vms/{vm}/disk", spec)
    started = time.monotonic()
    agent_call(zone, "PUT", f"/v1/vms/{vm}/running", spec)
    while True:
        status = agent_call(zone, "GET", f"/v1/vms/{vm}")
        if status["ready"]:
            took = time.monotonic() - started
            break
        if time.monotonic() - started > 300:
            raise SystemExit(f"VM {vm} not ready after 300 s")
        time.sleep(0.05)
    agent_call(zone, "DELETE", f"/v1/vms/{vm}")
    return took, status["image"]


def agent_rss_mib(zone):
    pid = subprocess.run(["pgrep", "-f", "--", f"--state-dir /tmp/mlb/{zone} "], capture_output=True,
                         text=True, check=True).stdout.split()[0]
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


class Dashboard:
    """A tenant signed up, calling the dashboard's server functions as its pages do."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.call("account_signup", tenant_name="Bench", email="bench@bench.example",
                  password="correct horse battery staple")

    def call(self, function, **form):
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(f"{BASE}/fn/{function}", data=data, method="POST",
                                         headers={"Origin": BASE})
        with self.opener.open(request, timeout=60) as answer:
            text = answer.read()
            return json.loads(text) if text else None


def stack_spin_up():
    dashboard = Dashboard()
    started = time.monotonic()
    stack = dashboard.call("stack_create", template="mongodb-9", name="bench")
    while True:
        detail = dashboard.call("stack_view", id=stack)
        states = [m["state"] for m in detail["members"]]
        if detail["state"] == "ready" or (len(states) == 9 and all(s == "running" for s in states)):
            return time.monotonic() - started, detail
        if detail["state"] == "failed" or time.monotonic() - started > 900:
            raise SystemExit(f"stack did not come up: {json.dumps(detail)[:2000]}")
        time.sleep(0.5)


def main():
    if os.geteuid() != 0:
        raise SystemExit("run as root (the lab makes namespaces)")
    lab("down")
    # Three hosts a zone: the stack's members are one anti-affinity group (three per zone).
    lab("up", "--zones", ",".join(ZONES), "--hosts", "3", "--port", str(PORT), "--no-build")
    try:
        idle = agent_rss_mib("lon1")
        boot_to_ready("lon1")  # warm the page cache with the image
        singles = [boot_to_ready("lon1") for _ in range(5)]
        image = singles[0][1]
        single = [s for s, _ in singles]
        print(f"image: {image}")
        print(f"one VM, boot to ready (5 runs): median {statistics.median(single):.2f} s, "
              f"worst {max(single):.2f} s")

        results, threads = [], []
        lock = threading.Lock()

        def one():
            took, _ = boot_to_ready("lon1")
            with lock:
                results.append(took)
        began = time.monotonic()
        for _ in range(10):
            thread = threading.Thread(target=one)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        print(f"ten VMs at once on one host: median {statistics.median(results):.2f} s, "
              f"worst {max(results):.2f} s, all ten in {time.monotonic() - began:.2f} s")
        print(f"agent resident memory: {idle:.1f} MiB idle, {agent_rss_mib('lon1'):.1f} MiB after the runs")

        took, detail = stack_spin_up()
        print(f"nine-VM stack ({detail['template']}) over {', '.join(ZONES)} as real VMs: "
              f"all nine running in {took:.1f} s (stack stopwatch {detail.get('spin_up_s')})")
    finally:
        lab("down")


if __name__ == "__main__":
    sys.exit(main())
