#!/usr/bin/env python3
"""How fast is burnin's port-pair traffic test, next to iperf3, on the same veth pair? (A benchmark, not a test.)

Makes one veth pair (bt-bench-a / bt-bench-b) and, in alternating rounds (default 2, SECONDS each, default 10):
  1. burnin: the network module itself (check, run, finish) with `ports` and `pairs` naming the pair: it moves
     each end into a namespace of its own, pushes TCP both ways at once for SECONDS, and restores the ports;
     its throughput is the one its `throughput*` findings report, per direction;
  2. iperf3 --bidir: the same ends moved into two namespaces the same way, `iperf3 -s -1` on one,
     `iperf3 -c --bidir -t SECONDS` on the other (both directions at once, one stream each way, like burnin's
     default `streams = 1`). iperf3 3.12 runs both directions in one thread per end;
  3. iperf3 x2: one iperf3 client/server pair per direction, at the same time (four processes, as burnin uses).
Also one direction alone: `python -m burnin.tools.traffic` vs `iperf3 -c` (no --bidir).

Prints the throughput of each, per direction and summed, and the ratio burnin / iperf3 (goal >= 0.8), against
the faster of the two iperf3 ways.
Needs root, iproute2 and iperf3 (Debian: apt-get install iperf3). Traffic stays on the veth pair it makes.

    /tmp/venv/bin/python scripts/bench/traffic_vs_iperf3.py [SECONDS] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

A, B = "bt-bench-a", "bt-bench-b"
NS_A, NS_B = "bt-bench-ns-a", "bt-bench-ns-b"
IP_A, IP_B = "198.18.0.1", "198.18.0.2"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def into_namespaces() -> None:
    for port, ns, ip in ((A, NS_A, IP_A), (B, NS_B, IP_B)):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "dev", port, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", port)
        sh("ip", "-n", ns, "link", "set", "dev", port, "up")
        sh("ip", "-n", ns, "link", "set", "dev", "lo", "up")
    time.sleep(0.5)


def out_of_namespaces() -> None:
    for port, ns in ((A, NS_A), (B, NS_B)):
        sh("ip", "-n", ns, "link", "set", "dev", port, "netns", "1", check=False)
        sh("ip", "netns", "delete", ns, check=False)
    sh("ip", "link", "set", A, "up")
    sh("ip", "link", "set", B, "up")


def burnin_bidir(seconds: float) -> dict[str, float]:
    from burnin.host import Host
    from burnin.modules.network import NetworkModule
    from burnin.testing import run_phases

    with tempfile.TemporaryDirectory() as state:
        module = NetworkModule(Host("/"), {"ports": [A, B], "pairs": [[A, B]], "detect_pairs": False,
                                           "traffic_s": float(seconds)})
        module.state_dir = state
        ctx = run_phases(module, seconds=seconds + 4.0)
    found = {f"{f.evidence['from']}->{f.evidence['to']}": f.evidence["mbps"]
             for f in ctx.findings if f.code.startswith("throughput") or f.code == "low-throughput"}
    if len(found) != 2:
        raise SystemExit(f"burnin's traffic test did not report both directions: {ctx.codes()}")
    return {"a->b": found[f"{A}->{B}"], "b->a": found[f"{B}->{A}"]}


def iperf3(seconds: float, bidir: bool) -> dict[str, float]:
    into_namespaces()
    try:
        server = subprocess.Popen(["ip", "netns", "exec", NS_B, "iperf3", "-s", "-1", "-B", IP_B],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        argv = ["ip", "netns", "exec", NS_A, "iperf3", "-c", IP_B, "-t", str(seconds), "-J"]
        client = sh(*argv, *(["--bidir"] if bidir else []))
        server.wait(timeout=10)
        end = json.loads(client.stdout)["end"]
        result = {"a->b": end["sum_received"]["bits_per_second"] / 1e6}
        if bidir:
            result["b->a"] = end["sum_received_bidir_reverse"]["bits_per_second"] / 1e6
        return result
    finally:
        out_of_namespaces()


def iperf3_pairs(seconds: float) -> dict[str, float]:
    """One iperf3 client/server per direction, running at once."""
    into_namespaces()
    try:
        servers = [subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-s", "-1", "-B", ip, "-p", port],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for ns, ip, port in ((NS_B, IP_B, "5201"), (NS_A, IP_A, "5202"))]
        time.sleep(0.5)
        clients = [subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-c", ip, "-p", port, "-t", str(seconds),
                                     "-J"], stdout=subprocess.PIPE, text=True)
                   for ns, ip, port in ((NS_A, IP_B, "5201"), (NS_B, IP_A, "5202"))]
        outs = [c.communicate(timeout=seconds + 30)[0] for c in clients]
        for server in servers:
            server.wait(timeout=10)
        rates = [json.loads(o)["end"]["sum_received"]["bits_per_second"] / 1e6 for o in outs]
        return {"a->b": rates[0], "b->a": rates[1]}
    finally:
        out_of_namespaces()


def burnin_one_way(seconds: float) -> dict[str, float]:
    into_namespaces()
    try:
        py = [sys.executable, "-m", "burnin.tools.traffic"]
        receiver = subprocess.Popen(["ip", "netns", "exec", NS_B, *py, "receive", "--bind", IP_B, "--port", "47001",
                                     "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)
        receiver.stdout.readline()  # ready
        sh("ip", "netns", "exec", NS_A, *py, "send", "--to", IP_B, "--port", "47001", "--seconds", str(seconds))
        out, _ = receiver.communicate(timeout=30)
        result = json.loads(out.strip().splitlines()[-1])
        return {"a->b": result["bytes"] * 8 / result["seconds"] / 1e6}
    finally:
        out_of_namespaces()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seconds", nargs="?", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("iperf3") is None:
        raise SystemExit("iperf3 is not installed (Debian: apt-get install iperf3)")
    sh("ip", "link", "add", A, "type", "veth", "peer", "name", B)
    results: dict[str, list[dict[str, float]]] = {"burnin": [], "iperf3": [], "iperf3x2": [], "burnin-1way": [],
                                                  "iperf3-1way": []}
    try:
        sh("ip", "link", "set", A, "up")
        sh("ip", "link", "set", B, "up")
        for _ in range(args.rounds):
            results["burnin"].append(burnin_bidir(args.seconds))
            results["iperf3"].append(iperf3(args.seconds, bidir=True))
            results["iperf3x2"].append(iperf3_pairs(args.seconds))
            results["burnin-1way"].append(burnin_one_way(args.seconds))
            results["iperf3-1way"].append(iperf3(args.seconds, bidir=False))
    finally:
        out_of_namespaces()
        sh("ip", "link", "del", A, check=False)

    def mean(tool: str, key: str) -> float:
        return statistics.mean(r[key] for r in results[tool])

    print(f"veth pair, {args.seconds:g} s per run, {args.rounds} rounds (means), Mb/s")
    print(f"{'':24}{'burnin':>12}{'iperf3':>12}{'iperf3 x2':>12}{'ratio':>8}")
    for key in ("a->b", "b->a", "sum"):
        b, i, i2 = (sum(mean(t, k) for k in ("a->b", "b->a")) if key == "sum" else mean(t, key)
                    for t in ("burnin", "iperf3", "iperf3x2"))
        print(f"{'both ways: ' + key:24}{b:12.0f}{i:12.0f}{i2:12.0f}{b / max(i, i2):8.2f}")
    b, i = mean("burnin-1way", "a->b"), mean("iperf3-1way", "a->b")
    print(f"{'one way:   a->b':24}{b:12.0f}{i:12.0f}{'':12}{b / i:8.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
