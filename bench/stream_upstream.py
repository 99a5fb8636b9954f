#!/usr/bin/env python3
"""bench/stream_upstream.py - an OpenAI-compatible upstream for make bench
that holds many streams at once (asyncio, one process).

    python3 bench/stream_upstream.py --port-file FILE

POST .../chat/completions, by the body's `model`:
  ticks-N-MS   a stream of N content deltas MS ms apart; each delta's
               content is "t=<wall clock ns when written> ", so a client can
               tell how late it arrived.  Without "stream": true, one
               completion after N*MS ms.
  (other)      a fixed small completion at once (or a 3-delta stream)
GET .../stats  {"open": streams open now, "max_open": most at once,
                "requests": chat requests}

Stops on SIGTERM.  Standard library only.
"""
import argparse
import asyncio
import json
import os
import signal
import time

STATS = {"open": 0, "max_open": 0, "requests": 0}
FIXED = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
         "model": "fixed", "choices": [{"index": 0, "finish_reason": "stop",
         "message": {"role": "assistant", "content": "Hello from the bench."}}],
         "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}}


def chunk(delta, finish=None):
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk",
            "created": 0, "model": "ticks", "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish}]}


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            if path.endswith("/stats"):
                await send(writer, 200, json.dumps(STATS).encode())
                continue
            STATS["requests"] += 1
            req = json.loads(body or b"{}")
            model = str(req.get("model", ""))
            n, ms = 3, 0
            if model.startswith("ticks-"):
                n, ms = (int(x) for x in model.split("-")[1:3])
            if not req.get("stream"):
                if ms:
                    await asyncio.sleep(n * ms / 1000)
                await send(writer, 200, json.dumps(FIXED).encode())
                continue
            await stream(writer, n, ms)
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def send(writer, status, body):
    writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body))
    await writer.drain()


async def stream(writer, n, ms):
    def event(obj):
        data = b"data: " + (obj if isinstance(obj, bytes) else
                            json.dumps(obj).encode()) + b"\n\n"
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))

    STATS["open"] += 1
    STATS["max_open"] = max(STATS["max_open"], STATS["open"])
    try:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        event(chunk({"role": "assistant", "content": ""}))
        await writer.drain()
        start = time.monotonic()
        for i in range(n):
            # each tick on its own schedule, so one late write does not
            # push the rest
            delay = start + (i + 1) * ms / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event(chunk({"content": "t=%d " % time.time_ns()}))
            await writer.drain()
        event(chunk({}, "stop"))
        event(b"[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    finally:
        STATS["open"] -= 1


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, a.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
