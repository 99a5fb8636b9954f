"""A scripted fake OpenAI-compatible upstream for clawcgi's tests.

Standard library only.  Binds 127.0.0.1 on a free port, writes the port to
--port-file, appends every chat request to --log as one JSON line, and
answers according to the request's `model`:

  (any)       "fake: " + the last user message's text; streamed as 3 deltas
  slow        the same, 0.3 s before each content delta
  error-500 / error-401 / error-503   that status with an OpenAI error body
  hang        waits up to 30 s before answering
  cut         a role chunk, one delta "partial", then the connection drops
  garbage     a 200 event stream whose event is not JSON
  length      a normal answer with finish_reason "length"

GET /stats answers {"connections", "requests", "open"}.  HTTP/1.1 keep-alive:
fixed-length bodies, and chunked transfer for streams.
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
stats = {"connections": 0, "requests": 0, "open": 0}
lock = threading.Lock()
log_file = None
stopping = threading.Event()


def user_text(body):
    text = ""
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                text = c
            elif isinstance(c, list):
                text = "\n".join(p.get("text", "") for p in c
                                 if isinstance(p, dict) and p.get("type") in ("text", "input_text"))
    return text


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1
            stats["open"] += 1
            self.conn_no = stats["connections"]

    def finish(self):
        with lock:
            stats["open"] -= 1
        try:
            super().finish()
        except OSError:
            pass

    def send(self, status, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (status, ctype, len(data))
        for h in extra:
            head += h + "\r\n"
        self.wfile.write(head.encode() + b"\r\n" + data)
        self.wfile.flush()

    def chunk(self, data):
        data = data.encode() if isinstance(data, str) else data
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, obj):
        self.chunk("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj)))

    def handle(self):
        while not stopping.is_set():
            line = self.rfile.readline()
            if not line:
                return
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return
            method, path = parts[0], parts[1]
            headers = {}
            while True:
                h = self.rfile.readline().decode("latin-1")
                if h in ("\r\n", "\n", ""):
                    break
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            raw = self.rfile.read(n) if n else b""
            if method == "GET" and path == "/stats":
                with lock:
                    self.send(200, dict(stats))
                continue
            if method != "POST" or not path.endswith("/chat/completions"):
                self.send(404, {"error": {"message": "no such route", "type": "not_found"}})
                continue
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self.send(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
                continue
            with lock:
                stats["requests"] += 1
                log_file.write(json.dumps({"n": stats["requests"], "conn": self.conn_no, "path": path,
                                           "headers": headers, "body": body}) + "\n")
                log_file.flush()
            if not self.answer(body):
                return

    def answer(self, body):
        """Answer one request; False when the connection must close."""
        model = body.get("model", "")
        text = "fake: " + user_text(body)
        if model.startswith("error-"):
            code = int(model[6:])
            msg = {500: "fake upstream exploded", 401: "Incorrect API key provided",
                   503: "fake upstream overloaded"}.get(code, "fake error")
            self.send(code, {"error": {"message": msg, "type": "server_error"}})
            return True
        if model == "hang":
            for _ in range(300):
                if stopping.is_set():
                    return False
                time.sleep(0.1)
        finish = "length" if model == "length" else "stop"
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model}
        if not body.get("stream"):
            if model == "garbage":
                self.send(200, b"data: {not json\n\ndata: [DONE]\n\n", "text/event-stream")
                return True
            self.send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": finish}], "usage": USAGE})
            return True
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n")
        self.event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]))
        if model == "garbage":
            self.event("{not json")
            self.event("[DONE]")
            self.chunk(b"")
            return True
        if model == "cut":
            self.event(dict(base, choices=[{"index": 0, "delta": {"content": "partial"}, "finish_reason": None}]))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        for piece in ["fake", ": ", user_text(body)]:
            if model == "slow":
                time.sleep(0.3)
            self.event(dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
        self.event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        if (body.get("stream_options") or {}).get("include_usage"):
            self.event(dict(base, choices=[], usage=USAGE))
        self.event("[DONE]")
        self.chunk(b"")
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global log_file
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log_file = open(a.log, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", 0), Handler)

    def stop(*_):
        stopping.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
