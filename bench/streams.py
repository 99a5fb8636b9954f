#!/usr/bin/env python3
"""bench/streams.py - many streamed chat requests at once, and what the
worker processes hold meanwhile (make bench; tests/e2e/t0990-capacity.sh).

    python3 bench/streams.py --port PORT --token TOKEN --count N --model M
                             [--sample-after S] [--pids-of PID | --pids "P..."]
                             [--path P]

Sends N streamed chat completions at once to 127.0.0.1:PORT (one asyncio
loop, one connection each) and prints one JSON object: how many were
answered 200 and whole ([DONE]), when each stream's first timestamped delta
came (the upstream bench/stream_upstream.py writes "t=<ns>" deltas), the
delays of all deltas, and, sampled S seconds in, the summed RSS and the
highest descriptor of the given processes (the web server's workers).
Standard library only.
"""
import argparse
import asyncio
import json
import os
import re
import sys
import time


def children(pid):
    """Every descendant of pid."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fds_and_rss(pids):
    """Summed RSS (KiB) and the highest open descriptor over pids."""
    top = 0
    for p in pids:
        try:
            top = max([top] + [int(x) for x in os.listdir("/proc/%d/fd" % p)])
        except OSError:
            pass
    return {"rss_kib": sum(rss_kib(p) for p in pids), "max_fd": top,
            "procs": len(pids)}


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int((len(v) - 1) * p))] if v else float("nan")


async def one_stream(port, path, model, token, res):
    """One streamed chat request; records when each timestamped delta came."""
    st = {"status": None, "delays": [], "first": None, "done": False,
          "start": time.time()}
    res.append(st)
    body = json.dumps({"model": model, "stream": True, "messages": [
        {"role": "user", "content": "Count for me."}]}).encode()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n"
                      % (path, token, len(body))).encode() + body)
        await writer.drain()
        buf = b""
        while True:
            data = await reader.read(65536)
            now = time.time_ns()
            if not data:
                break
            buf += data
            if st["status"] is None and b"\r\n" in buf:
                st["status"] = int(buf.split(b" ", 2)[1])
            last = 0
            for m in re.finditer(rb"t=(\d+) ", buf):
                st["delays"].append((now - int(m.group(1))) / 1e6)
                if st["first"] is None:
                    st["first"] = time.time() - st["start"]
                last = m.end()
            if b"[DONE]" in buf:
                st["done"] = True
            buf = buf[last:] if last else buf[-64:]
        writer.close()
    except (OSError, ValueError, IndexError) as e:
        st["error"] = str(e)


def run_streams(port, count, model, token, path="/v1/chat/completions",
                during=None, sample_after=0):
    """count streams at once; during(): called once, sample_after s in.
    Returns (one record per stream, what during returned)."""
    res = []

    async def go():
        tasks = [asyncio.ensure_future(one_stream(port, path, model, token, res))
                 for _ in range(count)]
        sample = None
        if during:
            await asyncio.sleep(sample_after)
            sample = await asyncio.get_running_loop().run_in_executor(None, during)
        await asyncio.gather(*tasks)
        return sample

    return res, asyncio.run(go())


def summary(res, sample):
    ok = [r for r in res if r["status"] == 200 and r["done"]]
    firsts = sorted(r["first"] for r in ok if r["first"] is not None)
    delays = [d for r in ok for d in r["delays"]]
    return {"streams": len(res), "whole": len(ok),
            "statuses": sorted({str(r["status"]) for r in res}),
            "errors": sorted({r["error"] for r in res if "error" in r})[:5],
            "first_delta_s": firsts, "delay_p50_ms": pct(delays, 0.5),
            "delay_p99_ms": pct(delays, 0.99), "deltas": len(delays),
            "sample": sample}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--sample-after", type=float, default=1)
    ap.add_argument("--pids-of", type=int, help="sample the descendants of PID")
    ap.add_argument("--pids", help="sample these PIDs (space-separated)")
    a = ap.parse_args()
    during = None
    if a.pids_of or a.pids:
        def during():
            pids = [int(p) for p in (a.pids or "").split()]
            return fds_and_rss(pids + (children(a.pids_of) if a.pids_of else []))
    res, sample = run_streams(a.port, a.count, a.model, a.token, a.path,
                              during, a.sample_after)
    json.dump(summary(res, sample), sys.stdout)
    print()


if __name__ == "__main__":
    main()
