#!/usr/bin/env python3
"""Stateful load side by side (run through setup/bench-stateful.sh).

dpstack-pktgen --mode http and wrk, 1,000 kept-alive clients each, one
client core each (CPU 1; the server has CPU 0), interleaved runs, against:

  nginx   Debian's nginx (one worker) in a namespace this script creates:
          pktgen reaches it through DPDK net_tap, wrk runs inside the
          namespace over its loopback (kernel TCP);
  httpd   dpstack-httpd: pktgen over net_memif (no kernel on the path); wrk
          through the kernel to dpstack-httpd on net_tap in the namespace.

Per run: requests per second, latency p50 and p99, errors, and the client's
CPU-seconds (from rusage). Prints each run and a table of medians. No
traffic leaves the namespace; memif is shared memory.
"""

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CLIENTS = 1000
PKTGEN = os.path.join(ROOT, "target/release/dpstack-pktgen")
HTTPD = os.path.join(ROOT, "target/release/dpstack-httpd")


def sh(*cmd):
    return subprocess.check_output(cmd, cwd=ROOT, text=True).strip()


NS = sh("setup/netns.sh", "create", "bstate")
WORK = tempfile.mkdtemp(prefix="dps-bench-stateful-")
SERVERS = []


def in_ns(*cmd):
    return ["ip", "netns", "exec", NS, *cmd]


def cleanup():
    for proc in SERVERS:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    subprocess.run([os.path.join(ROOT, "setup/netns.sh"), "delete", NS], capture_output=True)
    shutil.rmtree(WORK, ignore_errors=True)


def kernel_side(ifname, address):
    subprocess.check_call(in_ns("ip", "addr", "replace", address, "dev", ifname))
    subprocess.check_call(in_ns("ip", "link", "set", ifname, "up"))


def measured(cmd, on_line=None, timeout=None):
    """Runs cmd to its end: (stdout lines, client CPU-seconds, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if on_line:
            on_line(line)
    proc.wait(timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return lines, cpu, proc.returncode


def pktgen(prefix, backend, url, on_ready=None):
    """pktgen (under `prefix`, e.g. inside the namespace) on `backend`;
    `on_ready` runs once its stack is up."""
    cmd = [*prefix, "taskset", "-c", "1", PKTGEN, *backend, "--mode", "http", "--url", url,
           "--clients", str(CLIENTS), "--duration", str(SECS), "--json"]

    def ready(line):
        if line.startswith("dpstack: ready") and on_ready:
            on_ready()

    lines, cpu, rc = measured(cmd, ready, timeout=SECS + 60)
    summary = json.loads(next(l for l in reversed(lines) if l.startswith("{")))
    return {
        "rps": summary["requests_per_second"],
        "p50": summary["latency_us"]["p50"],
        "p99": summary["latency_us"]["p99"],
        "errors": summary["errors"],
        "cpu": cpu,
        "requests": summary["requests"],
        "rc": rc,
    }


def wrk_time_us(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def wrk(url):
    cmd = in_ns("taskset", "-c", "1", "wrk", "-t1", f"-c{CLIENTS}", f"-d{int(SECS)}s",
                "--latency", "--timeout", "2s", url)
    lines, cpu, rc = measured(cmd, timeout=SECS + 60)
    text = "\n".join(lines)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    errors += sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": wrk_time_us(re.search(r"50%\s+(\S+)", text).group(1)),
        "p99": wrk_time_us(re.search(r"99%\s+(\S+)", text).group(1)),
        "errors": errors,
        "cpu": cpu,
        "requests": requests,
        "rc": rc,
    }


def eal(vdev, lcore):
    return ["--backend", "dpdk", "--eal", f"-l {lcore} --no-pci --in-memory --vdev={vdev}"]


def start_nginx():
    www = os.path.join(WORK, "www")
    os.makedirs(www)
    with open(os.path.join(www, "file"), "wb") as f:
        f.write(b"x" * 100)
    conf = os.path.join(WORK, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid {WORK}/nginx.pid;
error_log {WORK}/error.log;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {WORK}/body;
  proxy_temp_path {WORK}/proxy;
  fastcgi_temp_path {WORK}/fastcgi;
  uwsgi_temp_path {WORK}/uwsgi;
  scgi_temp_path {WORK}/scgi;
  keepalive_requests 100000000;
  server {{ listen 8080; root {www}; }}
}}
""")
    subprocess.check_call(["chmod", "-R", "a+rX", WORK])
    SERVERS.append(subprocess.Popen(in_ns("taskset", "-c", "0", "nginx", "-c", conf, "-p", WORK)))
    time.sleep(0.5)


def start_httpd(prefix, backend):
    proc = subprocess.Popen([*prefix, "taskset", "-c", "0", HTTPD, *backend, "--listen-port", "80"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    SERVERS.append(proc)
    for line in proc.stdout:
        if line.startswith("dpstack: ready"):
            return proc
    raise RuntimeError("dpstack-httpd did not start")


def stop(proc):
    proc.terminate()
    proc.wait(20)


def main():
    results = {}

    def record(server, client, figures):
        results.setdefault((server, client), []).append(figures)
        print(f"{server:6} {client:7} {figures['rps']:10.0f} req/s  p50 {figures['p50'] / 1e3:7.2f} ms"
              f"  p99 {figures['p99'] / 1e3:7.2f} ms  errors {figures['errors']}"
              f"  client CPU {figures['cpu']:.2f} s  ({figures['requests'] / max(figures['cpu'], 1e-9):,.0f} req per client CPU-s)",
              flush=True)

    start_nginx()
    nginx_url = "http://10.81.0.1:8080/file"
    socket = os.path.join(WORK, "memif.sock")
    for _ in range(RUNS):
        # nginx: pktgen through net_tap (the kernel side addressed once the
        # TAP exists), then wrk inside the namespace.
        record("nginx", "pktgen", pktgen(
            in_ns(), eal("net_tap0,iface=dpsbs0", 1) + ["--ip", "10.81.0.2/24"], nginx_url,
            lambda: kernel_side("dpsbs0", "10.81.0.1/24")))
        # The TAP (and its address) went with pktgen: wrk, inside the
        # namespace with nginx, reaches it on the namespace's loopback.
        record("nginx", "wrk", wrk("http://127.0.0.1:8080/file"))
        # dpstack-httpd: pktgen over memif (both in the namespace, as every
        # vdev user), then wrk through net_tap.
        httpd = start_httpd(in_ns(), eal(f"net_memif0,role=server,socket={socket}", 0)
                            + ["--ip", "10.83.0.2/24"])
        record("httpd", "pktgen", pktgen(
            in_ns(), eal(f"net_memif0,role=client,socket={socket}", 1) + ["--ip", "10.83.0.1/24"],
            "http://10.83.0.2/bytes/100"))
        stop(httpd)
        httpd = start_httpd(in_ns(), eal("net_tap0,iface=dpsbs1", 0) + ["--ip", "10.82.0.2/24"])
        kernel_side("dpsbs1", "10.82.0.1/24")
        record("httpd", "wrk", wrk("http://10.82.0.2/bytes/100"))
        stop(httpd)

    print()
    print(f"medians of {RUNS} runs, {SECS:g} s each, {CLIENTS} kept-alive clients, one client core each:")
    print("| server | client | requests/s | p50 ms | p99 ms | errors | requests per client CPU-second |")
    print("|---|---|---|---|---|---|---|")
    for (server, client), runs in results.items():
        med = lambda key: statistics.median(r[key] for r in runs)
        per_cpu = statistics.median(r["requests"] / max(r["cpu"], 1e-9) for r in runs)
        errors = sum(r["errors"] for r in runs)
        print(f"| {server} | {client} | {med('rps'):,.0f} | {med('p50') / 1e3:.2f} | {med('p99') / 1e3:.2f}"
              f" | {errors} | {per_cpu:,.0f} |")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
