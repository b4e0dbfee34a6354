#!/usr/bin/python3
"""A scripted client for the harness's self-tests (an --adapter-cmd command).

fake_client.py MODE [PIDFILE]: reads the harness's JSON request on stdin and
  ok        IMAP: reads the greeting, sends LOGOUT, reports ok
  noop      sends NOOP where LOGOUT is expected (an mjfake mismatch), reports ok
  login     sends LOGIN alice secret, then LOGOUT, reports ok
  authfail  reports auth-failed without a connection
  crash     raises an exception (a traceback, exit 1, no JSON)
  hang      writes its pid to PIDFILE and sleeps
"""
import json
import os
import socket
import sys
import time

mode = sys.argv[1]
req = json.load(sys.stdin)


def talk(*commands):
    s = socket.create_connection((req["addr"], req["port"]), timeout=5)
    f = s.makefile("rb")
    f.readline()
    for c in commands:
        s.sendall(c.encode() + b"\r\n")
        while True:
            line = f.readline()
            if not line or line.startswith(c.split()[0].encode() + b" "):
                break
    s.close()


if mode == "ok":
    talk("a1 LOGOUT")
elif mode == "noop":
    talk("a1 NOOP")
elif mode == "login":
    talk("a1 LOGIN alice secret", "a2 LOGOUT")
elif mode == "authfail":
    print(json.dumps({"outcome": "auth-failed", "message": "the server said NO (scripted)"}))
    sys.exit(0)
elif mode == "crash":
    raise RuntimeError("scripted adapter crash")
elif mode == "hang":
    with open(sys.argv[2], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
print(json.dumps({"outcome": "ok", "message": "", "result": {"greeting": "x"}}))
