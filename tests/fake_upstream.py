"""A scripted fake OpenAI-compatible upstream for clawcgi's tests.

Python 3 standard library only.

    python3 tests/fake_upstream.py --port-file FILE --log FILE

Binds 127.0.0.1 on a free port, writes the port to FILE once it listens, and
serves until SIGTERM (or SIGINT), then exits 0.  One thread per connection,
HTTP/1.1 keep-alive: fixed answers carry Content-Length, streams use chunked
transfer encoding, so a client can reuse the connection after either.

Routes
  POST .../chat/completions   answers as scripted by the body's `model`
  POST .../embeddings         embeddings, as scripted by the body's `model`
                              (Embedding models, below)
  GET  .../stats              {"connections": TCP connections accepted,
                               "requests": chat and embeddings requests,
                               "open": connections open now, "aborted":
                               answers the client did not wait for}
  GET  .../models             a models list (for completeness)

Every chat (and embeddings) request is appended to the log as one JSON line
and flushed:
  {"n": seq, "conn": connection number, "path": ..., "headers": {lower-cased
   name: value}, "body": parsed JSON (null when it was not JSON, then "raw")}

Models
  (anything else)  "fake: " + the text of the last user message; a stream is
                   a role chunk, the deltas "fake", ": ", <text>, a finish
                   chunk, a usage chunk if stream_options.include_usage, [DONE]
  slow             the same, 0.3 s before each content delta of a stream
  think            a stream accepted at once, 3 s of silence, then deltas 0.5 s apart
  drip             a stream of 24 deltas "w0 " .. "w23 ", 0.25 s apart (6 s)
  flaky            HTTP 503 on every other call (the first, third, ...), else normal
  error-NNN        status NNN with an OpenAI error body (500, 401, 503, 429...)
  hang             waits up to 30 s (ends early on shutdown or when the client
                   goes away), then answers normally
  cut              stream: role chunk, delta "partial", then the connection is
                   closed with no last chunk and no [DONE]; non-stream: a body
                   shorter than its Content-Length, then closed
  garbage          200 text/event-stream: "data: {not json", then [DONE]
  length           a normal answer with finish_reason "length"
  tools, tools2    with `tools`: one call of the first tool (tools2: two calls
                   in parallel, the first and the last tool), arguments
                   {"city": ...}, finish_reason "tool_calls"; streamed as
                   OpenAI streams calls (id and name, then the arguments in
                   two pieces); when the last message is a tool result:
                   "fake: the tool said <its content>"
  slowtools        as tools, 24 empty argument fragments 0.25 s apart between
                   the two halves of the arguments (6 s)
  reason, reason2  reasoning "thinking about it" before the answer, as
                   reasoning_content (reason2: "reasoning", as vLLM names it)
  sse-json         an event stream even to a non-streaming request
  count            "seen N user messages: <their texts joined by " | ">": how
                   much history reached the upstream (the chat page's test)
  xss              a markdown answer (a heading, a list, a code block) that
                   carries HTML and script a page must render inert: an img
                   with onerror, a script element, javascript: links, an svg
                   with onload, an iframe
  calltool         with or without `tools`: a call of "lookup" with arguments
                   {"q": "clawcgi"} streamed in two pieces, finish_reason
                   "tool_calls"
  measure          not streamed: usage whose prompt_tokens is the size of
                   the messages sent (their JSON's bytes / 4, rounded up), as
                   a real upstream counts a long session's history
  cached           usage with its breakdowns: prompt_tokens 2011 (2000 of them
                   cached_tokens, 3 audio_tokens), completion_tokens 7 (5
                   reasoning_tokens, 1 accepted and 2 rejected prediction
                   tokens), as the usage chunk of a stream
  leak-key         HTTP 401 whose message quotes the key the request presented
                   (its bearer token, or x-api-key) and the value of its
                   x-org-secret header, as some upstreams quote a wrong key
  leak-key-mid     the same message as an error event after a delta "partial"
                   of a stream (its event written in two pieces, cut inside
                   the key); not streamed: as leak-key
  leak-key-utf16   HTTP 401, the leak-key message as text/plain in UTF-16
  any model, n > 1 that many choices (choice i > 0 says "(choice i)")
  any model, logprobs: true  logprobs with each piece of content

Embedding models (POST .../embeddings; the inputs are `input` as a list: a
string or one token array is one input)
  (anything else)  input i's vector is [i + 0.5, its length (characters of a
                   string, ids of a token array), 0.25, -1.0], cut to
                   `dimensions` or padded with 0.125 up to it; base64 of the
                   little-endian float32 values when encoding_format is
                   "base64"; usage prompt_tokens 9, total_tokens 9
  embed-echo       what was asked, as each input's vector: [number of inputs,
                   dimensions (0 when absent), encoding_format (1 "float",
                   2 "base64", 0 absent), 1 if `user` was sent else 0], base64
                   when asked
  embed-float      as the default, but numbers even when base64 was asked
  embed-short      one embedding fewer than the inputs
  embed-fail       HTTP 500 with an OpenAI error body
  embed-leak       as leak-key
  embed-hang       waits up to 30 s (ends early on shutdown or when the client
                   goes away), then answers normally
"""
import argparse
import base64
import json
import os
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def measured_usage(body):
    """usage as a real upstream counts it: the prompt by the size of the
    messages it was sent (their JSON's bytes / 4, rounded up)."""
    prompt = (len(json.dumps(body.get("messages"))) + 3) // 4
    return {"prompt_tokens": prompt, "completion_tokens": 7, "total_tokens": prompt + 7}


USAGE_CACHED = {"prompt_tokens": 2011, "completion_tokens": 7, "total_tokens": 2018,
                "prompt_tokens_details": {"cached_tokens": 2000, "audio_tokens": 3},
                "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 1,
                                              "rejected_prediction_tokens": 2}}
ERRORS = {
    500: ("fake upstream exploded", "server_error"),
    401: ("Incorrect API key provided", "invalid_request_error"),
    503: ("fake upstream overloaded", "server_error"),
    429: ("Rate limit reached", "rate_limit_error"),
}
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}

RICH_MODELS = ("tools", "tools2", "slowtools", "reason", "reason2", "sse-json")
PAGE_MODELS = ("count", "xss", "calltool")
XSS_ANSWER = (
    "# Inert\n\nA list:\n\n- one\n- two\n\n"
    "<img src=x onerror=\"window.__xss='img';alert(1)\">\n\n"
    "<script>window.__xss='script';alert(2)</script>\n\n"
    "[click me](javascript:window.__xss='link';alert(3))\n\n"
    "<a href=\"javascript:alert(4)\">raw link</a>\n\n"
    "<svg onload=\"window.__xss='svg';alert(5)\"><circle r=\"4\"/></svg>\n\n"
    "<iframe src=\"javascript:alert(6)\"></iframe>\n\n"
    "```python\nprint('hello')\n```\n")

stats = {"connections": 0, "requests": 0, "open": 0, "aborted": 0}
flaky = [0]
lock = threading.Lock()
stopping = threading.Event()
log_file = None


class ClientGone(Exception):
    """The client closed its end while we were still answering."""


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content
                         if isinstance(p, dict) and p.get("type") in ("text", "input_text")
                         and isinstance(p.get("text"), str))
    return ""


def thinking_problem(body):
    """What the Messages API refuses of extended thinking, or None: a budget
    under 1024 or not below max_tokens, a temperature other than 1, top_p
    under 0.95, a forced tool, an assistant turn with tool_use that does not
    start with a thinking block (a tool use cycle in progress)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= body.get("max_tokens", 0):
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    if body.get("temperature", 1) != 1:
        return "`temperature` may only be set to 1 when thinking is enabled"
    if body.get("top_p", 1) < 0.95:
        return "`top_p` must be greater than or equal to 0.95 when thinking is enabled"
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    msgs = body.get("messages") or []
    for i, m in enumerate(msgs):
        blocks = m.get("content") if isinstance(m.get("content"), list) else []
        if (m.get("role") == "assistant" and i == len(msgs) - 2
                and any(b.get("type") == "tool_use" for b in blocks)
                and blocks[0].get("type") not in ("thinking", "redacted_thinking")):
            return ("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, "
                    "but found `%s`" % (i, blocks[0].get("type")))
    return None


def anthropic_problem(body):
    """What the Messages API would refuse in body, or None: an empty text
    block, a tool_result whose tool_use_id is not a tool_use of the
    assistant turn right before it, a stop sequence that is only
    whitespace, thinking_problem."""
    problem = thinking_problem(body)
    if problem:
        return problem
    if any(isinstance(s, str) and not s.strip() for s in body.get("stop_sequences") or []):
        return "stop_sequences: each stop sequence must contain non-whitespace"
    prev_ids = set()
    for i, m in enumerate(body.get("messages") or []):
        content = m.get("content")
        blocks = content if isinstance(content, list) else []
        if isinstance(content, str) and not content:
            return "messages.%d: text content blocks must be non-empty" % i
        ids = set()
        for b in blocks:
            if b.get("type") == "text" and not b.get("text"):
                return "messages.%d: text content blocks must be non-empty" % i
            if b.get("type") == "tool_use":
                ids.add(b.get("id"))
            if b.get("type") == "tool_result" and b.get("tool_use_id") not in prev_ids:
                return ("messages.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s"
                        % (i, b.get("tool_use_id")))
        prev_ids = ids if m.get("role") == "assistant" else set()
    return None


def anthropic_usage(model, output_tokens):
    """A Messages API usage object: 13 input tokens, and for the model
    "cached" 2000 more read from the cache and 500 written to it."""
    usage = {"input_tokens": 13, "output_tokens": output_tokens}
    if model == "cached":
        usage.update(cache_read_input_tokens=2000, cache_creation_input_tokens=500)
    return usage


def user_text(body):
    """The text of the last message whose role is "user"."""
    text = ""
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            text = text_of(m.get("content"))
    return text


class Handler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.close_after = False
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

    # -- output -------------------------------------------------------------
    def write(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as e:
            raise ClientGone() from e

    def send(self, status, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            status, REASONS.get(status, "X"), ctype, len(data))
        if self.close_after:
            head += "Connection: close\r\n"
        for h in extra:
            head += h + "\r\n"
        self.write(head.encode() + b"\r\n" + data)

    def start_chunked(self, ctype="text/event-stream"):
        head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
                "Transfer-Encoding: chunked\r\n" % ctype)
        if self.close_after:
            head += "Connection: close\r\n"
        self.write(head.encode() + b"\r\n")

    def chunk(self, data):
        data = data.encode() if isinstance(data, str) else data
        self.write(b"%x\r\n%s\r\n" % (len(data), data))

    def event(self, obj):
        self.chunk("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj)))

    # -- input --------------------------------------------------------------
    def read_body(self, headers):
        if headers.get("expect", "").lower() == "100-continue":
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return raw
                raw += self.rfile.read(size)
                self.rfile.readline()
        n = int(headers.get("content-length", "0") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def client_gone(self):
        """True when the peer has closed its end (nothing to read but EOF)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            return bool(r) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def pause(self, seconds):
        """Sleep, but stop early (ClientGone) on shutdown or a closed client."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if stopping.is_set() or self.client_gone():
                raise ClientGone()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def handle(self):
        try:
            while not stopping.is_set():
                if not self.one_request():
                    return
        except ClientGone:
            with lock:
                stats["aborted"] += 1
        except (OSError, ValueError):
            pass

    def one_request(self):
        """Read and answer one request; False when the connection must close."""
        line = self.rfile.readline()
        if not line or not line.strip():
            return False
        parts = line.decode("latin-1").split()
        if len(parts) < 3:
            return False
        method, path, version = parts[0], parts[1], parts[2]
        headers = {}
        while True:
            h = self.rfile.readline().decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            k, v = k.strip().lower(), v.strip()
            headers[k] = headers[k] + ", " + v if k in headers else v
        conn_hdr = headers.get("connection", "").lower()
        self.close_after = ("close" in conn_hdr or
                            (version == "HTTP/1.0" and "keep-alive" not in conn_hdr))
        raw = self.read_body(headers)
        route = path.split("?", 1)[0]
        if method == "GET" and route.endswith("/stats"):
            with lock:
                snapshot = dict(stats)
            self.send(200, snapshot)
        elif method == "GET" and route.endswith("/models"):
            self.send(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1, "owned_by": "fake"}
                for m in ("gpt-test", "slow", "think", "drip", "hang", "cut", "garbage", "length")]})
        elif method == "POST" and route.endswith("/chat/completions"):
            return self.chat(path, headers, raw) and not self.close_after
        elif method == "POST" and route.endswith("/embeddings"):
            return self.chat(path, headers, raw, self.embeddings) and not self.close_after
        elif method == "POST" and route.endswith("/v1/messages"):
            return self.chat(path, headers, raw, self.anthropic) and not self.close_after
        else:
            self.send(404, {"error": {"message": "no such route: %s %s" % (method, path),
                                      "type": "invalid_request_error"}})
        return not self.close_after

    # -- chat ---------------------------------------------------------------
    def chat(self, path, headers, raw, answer=None):
        self.req_headers = headers
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = None
        with lock:
            stats["requests"] += 1
            n = stats["requests"]
            entry = {"n": n, "conn": self.conn_no, "path": path, "headers": headers, "body": body}
            if body is None:
                entry["raw"] = raw.decode("utf-8", "replace")
            log_file.write(json.dumps(entry) + "\n")
            log_file.flush()
        if not isinstance(body, dict):
            self.send(400, {"error": {"message": "We could not parse the JSON body of your request.",
                                      "type": "invalid_request_error"}})
            return True
        return (answer or self.answer)(body, n)

    def leaked_message(self):
        """What an upstream that refuses a key says: the key itself."""
        h = self.req_headers
        auth = h.get("authorization", "")
        key = auth[7:] if auth.lower().startswith("bearer ") else h.get("x-api-key", "")
        msg = "Incorrect API key provided: %s." % key
        if "x-org-secret" in h:
            msg += " Organization secret %s is not valid either." % h["x-org-secret"]
        return key, msg

    def leak_key(self, body, model, streaming):
        """leak-key, leak-key-mid, embed-leak (see the models above)."""
        key, msg = self.leaked_message()
        if model == "leak-key-utf16":
            self.send(401, msg.encode("utf-16-le"), "text/plain; charset=utf-16le")
            return True
        err = {"error": {"message": msg, "type": "invalid_request_error", "param": None,
                         "code": "invalid_api_key"}}
        if model != "leak-key-mid" or not streaming:
            self.send(401, err)
            return True
        self.start_chunked()
        for delta in ({"role": "assistant"}, {"content": "partial"}):
            self.event({"id": "chatcmpl-leak", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "choices": [{"index": 0, "delta": delta,
                                                     "finish_reason": None}]})
        data = "data: %s\n\n" % json.dumps(err)
        cut = data.index(key) + len(key) // 2 if key else len(data) // 2
        self.chunk(data[:cut])
        self.pause(0.2)
        self.chunk(data[cut:])
        self.chunk("data: [DONE]\n\n")
        self.chunk(b"")
        return True

    def embeddings(self, body, n):
        """POST .../embeddings: the vectors of the embedding models above."""
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        if model == "embed-leak":
            return self.leak_key(body, "leak-key", False)
        if model == "embed-fail":
            self.send(500, {"error": {"message": "fake embeddings exploded",
                                      "type": "server_error", "param": None, "code": None}})
            return True
        if model == "embed-hang":
            self.pause(30)
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs
                                       and isinstance(inputs[0], int)):
            inputs = [inputs]
        inputs = inputs if isinstance(inputs, list) else []
        dims = body.get("dimensions")
        fmt = body.get("encoding_format")
        data = []
        for i, item in enumerate(inputs):
            if model == "embed-echo":
                vec = [len(inputs), dims or 0, {"float": 1, "base64": 2}.get(fmt, 0),
                       1 if "user" in body else 0]
            else:
                vec = [i + 0.5, len(item), 0.25, -1.0]
                if isinstance(dims, int):
                    vec = (vec + [0.125] * dims)[:dims]
            emb = vec
            if fmt == "base64" and model != "embed-float":
                emb = base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        if model == "embed-short":
            data = data[:-1]
        self.send(200, {"object": "list", "data": data, "model": model,
                        "usage": {"prompt_tokens": 9, "total_tokens": 9}})
        return True

    def anthropic(self, body, n):
        """The Messages API: "fake: " + the last user text block; models
        error-NNN, leak-key, "length" (stop_reason max_tokens) and "midfail" (an
        error event after one delta) as for the OpenAI side; "tools": with
        `tools`, a tool_use block calling the first (streamed after a
        thinking block), and "fake: the tool said <result>" after a
        tool_result; a forced tool (tool_choice type "tool"), any model:
        a call of it (anthropic_forced_tool); thinking enabled: a thinking
        block "a budget of N tokens" before the text; "cached": usage
        that read 2000 prompt tokens from the cache and wrote 500 to it
        (anthropic_usage); "refusal": "I can't help with that." with
        stop_reason refusal; "noargs": with `tools`, a call of the first
        with input {} (streamed: no input_json_delta, then an empty one for
        a second call).  Requests the real API
        refuses (an empty text block, a tool_result with no tool_use right
        before it, thinking_problem) get its 400."""
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        text = ""
        for m in body.get("messages") or []:
            if m.get("role") == "user" and isinstance(m.get("content"), list):
                t = [b.get("text", "") for b in m["content"] if b.get("type") == "text"]
                if t:
                    text = "\n".join(t)
            elif m.get("role") == "user" and isinstance(m.get("content"), str):
                text = m["content"]
        if model.startswith("error-") and model[6:].isdigit():
            code = int(model[6:])
            self.send(code, {"type": "error", "error": {"type": "api_error",
                                                        "message": "fake anthropic says %d" % code}})
            return True
        if model == "leak-key":
            self.send(401, {"type": "error", "error": {"type": "authentication_error",
                                                       "message": self.leaked_message()[1]}})
            return True
        problem = anthropic_problem(body)
        if problem:  # refused as the Messages API refuses it
            self.send(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                       "message": problem}})
            return True
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs else {}
        results = [b for b in last.get("content") or [] if isinstance(b, dict)
                   and b.get("type") == "tool_result"] if isinstance(last.get("content"), list) else []
        forced = body.get("tool_choice") or {}
        if forced.get("type") == "tool" and not results:
            return self.anthropic_forced_tool(body, n, model, forced.get("name"), text)
        if model == "tools" and body.get("tools") and not results:
            return self.anthropic_tool_use(body, n, model)
        if model == "noargs" and body.get("tools") and not results:
            return self.anthropic_no_args(body, n, model)
        if results:
            text = "the tool said " + str(results[-1].get("content", ""))
        stop = {"length": "max_tokens", "refusal": "refusal"}.get(model, "end_turn")
        if model == "refusal":
            text = "I can't help with that."
        thought = None
        if (body.get("thinking") or {}).get("type") == "enabled":
            thought = "a budget of %d tokens" % body["thinking"]["budget_tokens"]
        if not body.get("stream"):
            content = [{"type": "text", "text": "fake: " + text}]
            if thought:
                content.insert(0, {"type": "thinking", "thinking": thought,
                                   "signature": "fake-signature"})
            self.send(200, {"id": "msg_fake_%d" % n, "type": "message", "role": "assistant",
                            "model": model, "content": content,
                            "stop_reason": stop, "usage": anthropic_usage(model, 9)})
            return True

        ev = self.anthropic_stream_start(n, model)
        b = 0
        if thought:
            ev("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "thinking", "thinking": ""}})
            ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "thinking_delta", "thinking": thought}})
            ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "signature_delta",
                                                 "signature": "fake-signature"}})
            ev("content_block_stop", {"type": "content_block_stop", "index": 0})
            b = 1
        ev("content_block_start", {"type": "content_block_start", "index": b,
                                   "content_block": {"type": "text", "text": ""}})
        ev("ping", {"type": "ping"})
        for i, piece in enumerate(["fake", ": ", text]):
            ev("content_block_delta", {"type": "content_block_delta", "index": b,
                                       "delta": {"type": "text_delta", "text": piece}})
            if model == "midfail":
                ev("error", {"type": "error", "error": {"type": "overloaded_error",
                                                        "message": "Overloaded"}})
                self.chunk(b"")
                return True
        ev("content_block_stop", {"type": "content_block_stop", "index": b})
        return self.anthropic_stream_end(ev, stop)

    def end_stream(self, body, cid, created, model):
        """A chat stream's usage chunk (when asked for), [DONE], the end."""
        opts = body.get("stream_options")
        if isinstance(opts, dict) and opts.get("include_usage"):
            self.event({"id": cid, "object": "chat.completion.chunk", "created": created,
                        "model": model, "choices": [],
                        "usage": USAGE_CACHED if model == "cached" else USAGE})
        self.event("[DONE]")
        self.chunk(b"")
        return True

    def rich(self, body, n, model, streaming):
        """Tool calls, reasoning, logprobs, several choices, and an event
        stream as the answer to a non-streaming request (see RICH_MODELS)."""
        cid = "chatcmpl-fake-%d" % n
        created = int(time.time())
        choices = body.get("n") if isinstance(body.get("n"), int) and body.get("n") > 1 else 1
        want_logprobs = body.get("logprobs") is True
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs and isinstance(msgs[-1], dict) else {}
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or []
                 if isinstance(t, dict)]
        calls = []
        if model in ("tools", "tools2", "slowtools") and tools and last.get("role") != "tool":
            calls = [{"id": "call_fake_%d_0" % n, "name": tools[0], "arguments": '{"city":"Paris"}'}]
            if model == "tools2":
                calls.append({"id": "call_fake_%d_1" % n, "name": tools[-1],
                              "arguments": '{"city":"Rome"}'})
        if last.get("role") == "tool":
            text = "fake: the tool said " + text_of(last.get("content"))
        else:
            text = "fake: " + user_text(body)
        reasoning = "thinking about it" if model in ("reason", "reason2") else None
        rkey = "reasoning" if model == "reason2" else "reasoning_content"
        finish = "tool_calls" if calls else "stop"

        def lp(token):
            return {"content": [{"token": token, "logprob": -0.25, "bytes": list(token.encode()),
                                 "top_logprobs": []}]} if want_logprobs else None

        def text_for(i):
            return text if i == 0 else "%s (choice %d)" % (text, i)

        if not streaming and model != "sse-json":
            out = []
            for i in range(choices):
                m = {"role": "assistant", "content": None if calls else text_for(i)}
                if reasoning:
                    m[rkey] = reasoning
                if calls:
                    m["tool_calls"] = [{"id": c["id"], "type": "function",
                                        "function": {"name": c["name"], "arguments": c["arguments"]}}
                                       for c in calls]
                out.append({"index": i, "message": m, "logprobs": lp(text_for(i)),
                            "finish_reason": finish})
            self.send(200, {"id": cid, "object": "chat.completion", "created": created,
                            "model": model, "choices": out, "usage": USAGE})
            return True

        def ev(i, delta, finish_reason=None, logprobs=None):
            c = {"index": i, "delta": delta, "finish_reason": finish_reason}
            if logprobs:
                c["logprobs"] = logprobs
            self.event({"id": cid, "object": "chat.completion.chunk", "created": created,
                        "model": model, "choices": [c]})
        self.start_chunked()
        for i in range(choices):
            ev(i, {"role": "assistant", "content": ""})
        if reasoning:
            for piece in ("thinking ", "about it"):
                ev(0, {rkey: piece})
        for k, c in enumerate(calls):
            ev(0, {"tool_calls": [{"index": k, "id": c["id"], "type": "function",
                                   "function": {"name": c["name"], "arguments": ""}}]})
            half = len(c["arguments"]) // 2
            for part in (c["arguments"][:half], c["arguments"][half:]):
                ev(0, {"tool_calls": [{"index": k, "function": {"arguments": part}}]})
                for _ in range(24 if model == "slowtools" and part != c["arguments"][half:] else 0):
                    self.pause(0.25)  # empty fragments: writes every server notices a leaver at
                    ev(0, {"tool_calls": [{"index": k, "function": {"arguments": ""}}]})
        if not calls:
            for piece in ("fake", ": ", text[6:]):
                for i in range(choices):
                    ev(i, {"content": piece if i == 0 or piece != text[6:] else
                           text_for(i)[6:]}, logprobs=lp(piece))
        for i in range(choices):
            ev(i, {}, finish)
        return self.end_stream(body, cid, created, model)

    def page_model(self, body, n, model, streaming):
        """The models "count", "xss" and "calltool" (see the docstring)."""
        cid = "chatcmpl-fake-%d" % n
        created = int(time.time())
        calls = []
        if model == "count":
            users = [text_of(m.get("content")) for m in body.get("messages") or []
                     if isinstance(m, dict) and m.get("role") == "user"]
            text = "seen %d user messages: %s" % (len(users), " | ".join(users))
        elif model == "xss":
            text = XSS_ANSWER
        else:
            text = ""
            calls = [{"id": "call_fake_%d_0" % n, "name": "lookup", "arguments": '{"q": "clawcgi"}'}]
        finish = "tool_calls" if calls else "stop"
        if not streaming:
            m = {"role": "assistant", "content": text or None}
            if calls:
                m["tool_calls"] = [{"id": c["id"], "type": "function",
                                    "function": {"name": c["name"], "arguments": c["arguments"]}}
                                   for c in calls]
            self.send(200, {"id": cid, "object": "chat.completion", "created": created,
                            "model": model, "choices": [{"index": 0, "message": m,
                                                         "finish_reason": finish}],
                            "usage": USAGE})
            return True

        def ev(delta, finish_reason=None):
            self.event({"id": cid, "object": "chat.completion.chunk", "created": created,
                        "model": model, "choices": [{"index": 0, "delta": delta,
                                                     "finish_reason": finish_reason}]})
        self.start_chunked()
        ev({"role": "assistant", "content": ""})
        for c in calls:
            ev({"tool_calls": [{"index": 0, "id": c["id"], "type": "function",
                                "function": {"name": c["name"], "arguments": ""}}]})
            half = len(c["arguments"]) // 2
            for part in (c["arguments"][:half], c["arguments"][half:]):
                ev({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        step = 40
        for i in range(0, len(text), step):
            ev({"content": text[i:i + step]})
        ev({}, finish)
        return self.end_stream(body, cid, created, model)

    def anthropic_stream_start(self, n, model):
        """Start a Messages API stream with its message_start event; returns
        ev(name, obj), which sends one more event."""
        def ev(name, obj):
            self.chunk("event: %s\ndata: %s\n\n" % (name, json.dumps(obj)))
        self.start_chunked()
        ev("message_start", {"type": "message_start", "message": {
            "id": "msg_fake_%d" % n, "type": "message", "role": "assistant", "model": model,
            "content": [], "usage": anthropic_usage(model, 1)}})
        return ev

    def anthropic_forced_tool(self, body, n, model, name, text):
        """tool_choice {"type":"tool","name":...}: a call of that tool with
        {"answer": "fake: <text>", "n": 42}, the input streamed in three
        pieces."""
        tid = "toolu_fake_%d" % n
        tool_input = {"answer": "fake: " + text, "n": 42}
        if not body.get("stream"):
            self.send(200, {"id": "msg_fake_%d" % n, "type": "message", "role": "assistant",
                            "model": model, "content": [
                                {"type": "tool_use", "id": tid, "name": name,
                                 "input": tool_input}],
                            "stop_reason": "tool_use",
                            "usage": {"input_tokens": 13, "output_tokens": 9}})
            return True
        ev = self.anthropic_stream_start(n, model)
        whole = json.dumps(tool_input)
        self.anthropic_tool_block(ev, 0, tid, name, (whole[:5], whole[5:12], whole[12:]))
        return self.anthropic_stream_end(ev, "tool_use")

    def anthropic_tool_block(self, ev, index, tid, name, parts):
        """A streamed tool_use block: its start, its input in parts, its stop."""
        ev("content_block_start", {"type": "content_block_start", "index": index,
                                   "content_block": {"type": "tool_use", "id": tid, "name": name,
                                                     "input": {}}})
        for part in parts:
            ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                       "delta": {"type": "input_json_delta", "partial_json": part}})
        ev("content_block_stop", {"type": "content_block_stop", "index": index})

    def anthropic_stream_end(self, ev, stop):
        """A Messages API stream's end: message_delta with stop, message_stop."""
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop},
                             "usage": {"output_tokens": 9}})
        ev("message_stop", {"type": "message_stop"})
        self.chunk(b"")
        return True

    def anthropic_tool_use(self, body, n, model):
        """A tool_use block calling the first tool with {"city": "Paris"}."""
        name = body["tools"][0].get("name", "")
        tid = "toolu_fake_%d" % n
        if not body.get("stream"):
            self.send(200, {"id": "msg_fake_%d" % n, "type": "message", "role": "assistant",
                            "model": model, "content": [
                                {"type": "text", "text": "Let me look."},
                                {"type": "tool_use", "id": tid, "name": name,
                                 "input": {"city": "Paris"}}],
                            "stop_reason": "tool_use",
                            "usage": {"input_tokens": 13, "output_tokens": 9}})
            return True

        ev = self.anthropic_stream_start(n, model)
        ev("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "thinking", "thinking": ""}})
        ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "thinking_delta", "thinking": "pondering"}})
        ev("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.anthropic_tool_block(ev, 1, tid, name, ('{"city":', ' "Paris"}'))
        return self.anthropic_stream_end(ev, "tool_use")

    def anthropic_no_args(self, body, n, model):
        """Calls of the first tool with input {}: whole, one tool_use block;
        streamed, a block with no input_json_delta and one with only "" """
        name = body["tools"][0].get("name", "")
        tid = "toolu_fake_%d" % n
        if not body.get("stream"):
            self.send(200, {"id": "msg_fake_%d" % n, "type": "message", "role": "assistant",
                            "model": model, "content": [
                                {"type": "tool_use", "id": tid, "name": name, "input": {}}],
                            "stop_reason": "tool_use",
                            "usage": {"input_tokens": 13, "output_tokens": 9}})
            return True
        ev = self.anthropic_stream_start(n, model)
        self.anthropic_tool_block(ev, 0, tid, name, ())
        self.anthropic_tool_block(ev, 1, tid + "b", name, ("",))
        return self.anthropic_stream_end(ev, "tool_use")

    def answer(self, body, n):
        model = body.get("model")
        model = model if isinstance(model, str) else ""
        streaming = body.get("stream") is True
        if model.startswith("error-") and model[6:].isdigit():
            code = int(model[6:])
            msg, typ = ERRORS.get(code, ("fake upstream error %d" % code, "server_error"))
            self.send(code, {"error": {"message": msg, "type": typ, "param": None, "code": None}})
            return True
        if model in ("leak-key", "leak-key-mid", "leak-key-utf16"):
            return self.leak_key(body, model, streaming)
        if model in PAGE_MODELS:
            return self.page_model(body, n, model, streaming)
        if (model in RICH_MODELS or (isinstance(body.get("n"), int) and body.get("n") > 1)
                or body.get("logprobs") is True):
            return self.rich(body, n, model, streaming)
        text = "fake: " + user_text(body)
        finish = "length" if model == "length" else "stop"
        cid = "chatcmpl-fake-%d" % n
        created = int(time.time())

        if model == "hang":
            self.pause(30)
        if model == "flaky":  # 503 on every other call, starting with the first
            with lock:
                flaky[0] += 1
                fail = flaky[0] % 2 == 1
            if fail:
                self.send(503, {"error": {"message": "flaky upstream says try again",
                                          "type": "server_error", "param": None, "code": None}})
                return True
        if model == "garbage":
            data = b"data: {not json\n\ndata: [DONE]\n\n"
            if streaming:
                self.start_chunked()
                self.chunk(data)
                self.chunk(b"")
            else:
                self.send(200, data, "text/event-stream")
            return True
        if not streaming:
            if model == "cut":
                data = json.dumps({"id": cid, "object": "chat.completion", "choices": []}).encode()
                self.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(data) + 100, data[:len(data) // 2]))
                self.connection.shutdown(socket.SHUT_RDWR)
                return False
            self.send(200, {"id": cid, "object": "chat.completion", "created": created, "model": model,
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                         "finish_reason": finish}],
                            "usage": USAGE_CACHED if model == "cached"
                            else measured_usage(body) if model == "measure" else USAGE})
            return True

        def chunk_of(delta, finish_reason=None):
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        self.start_chunked()
        if model == "think":  # accepted at once, silent before the first token
            self.pause(3)
        self.event(chunk_of({"role": "assistant"}))
        if model == "cut":
            self.event(chunk_of({"content": "partial"}))
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        pieces = ["fake", ": ", user_text(body)]
        if model == "drip":
            pieces = ["w%d " % i for i in range(24)]
        for piece in pieces:
            if model == "slow":
                self.pause(0.3)
            elif model == "think":
                self.pause(0.5)
            elif model == "drip":
                self.pause(0.25)
            self.event(chunk_of({"content": piece}))
        self.event(chunk_of({}, finish))
        return self.end_stream(body, cid, created, model)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 64


def main():
    global log_file
    ap = argparse.ArgumentParser(description="scripted fake OpenAI-compatible upstream")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    log_file = open(a.log, "a", encoding="utf-8")
    srv = Server(("127.0.0.1", 0), Handler)

    def stop(*_):
        stopping.set()
        # shutdown() waits for serve_forever, which runs in this (main) thread
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
    log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
