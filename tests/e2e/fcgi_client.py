"""A FastCGI client (the FastCGI spec, version 1) for the tests: one
responder request to HOST:PORT, its stdin sent in full or cut short and held
open, the answer's stdout printed.  Python standard library only.

    python3 fcgi_client.py HOST:PORT BODY-BYTES SEND-BYTES WAIT-SECONDS NAME=VALUE...

Sends the parameters, then SEND-BYTES of a BODY-BYTES body ("x"s); when that
is less than the whole body it then waits up to WAIT-SECONDS without sending
more.  Prints what came on FCGI_STDOUT (the CGI response) and exits 0, or
prints "(nothing)" when nothing came in time.

FCGI_BODY=TEXT in the environment sends TEXT as the whole body instead
(BODY-BYTES and SEND-BYTES are then its length).  FCGI_TRAILER=TEXT sends
TEXT as one more FCGI_STDIN record after the end of stdin (bytes the
application never reads).
FCGI_HOLD=SECONDS keeps this end of the connection open that long after the
answer (printed and flushed first) instead of closing it at once.
"""
import os
import socket
import struct
import sys
import time

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6


def record(rtype, content):
    return struct.pack(">BBHHBB", 1, rtype, 1, len(content), 0, 0) + content


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pairs(params):
    out = b""
    for k, v in params:
        k, v = k.encode(), v.encode()
        out += length(len(k)) + length(len(v)) + k + v
    return out


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    total, send, wait = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    body = os.environ.get("FCGI_BODY", "").encode() or b"x" * send
    if os.environ.get("FCGI_BODY"):
        total = send = len(body)
    params = [a.split("=", 1) for a in sys.argv[5:]] + [("CONTENT_LENGTH", str(total))]
    s = socket.create_connection((host, int(port)), 10)
    s.sendall(record(BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)))
    s.sendall(record(PARAMS, pairs(params)) + record(PARAMS, b""))
    for i in range(0, len(body), 65535):
        s.sendall(record(STDIN, body[i:i + 65535]))
    if send >= total:
        s.sendall(record(STDIN, b""))
    if os.environ.get("FCGI_TRAILER"):
        s.sendall(record(STDIN, os.environ["FCGI_TRAILER"].encode()))
    s.settimeout(wait)
    got, out, start = b"", b"", time.time()
    try:
        while time.time() - start < wait:
            b = s.recv(65536)
            if not b:
                break
            got += b
            while len(got) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", got[:8])
                if len(got) < 8 + clen + plen:
                    break
                if rtype == STDOUT:
                    out += got[8:8 + clen]
                got = got[8 + clen + plen:]
                if rtype == END_REQUEST:
                    raise StopIteration
    except (OSError, StopIteration):
        pass
    sys.stdout.write(out.decode("utf-8", "replace") if out else "(nothing)\n")
    sys.stdout.flush()
    time.sleep(float(os.environ.get("FCGI_HOLD", "0")))
    s.close()


main()
