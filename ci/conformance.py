#!/usr/bin/python3
"""make conformance, until the harness (issue #4) takes it over.

The scenario runner (mjfake + the pytest plugin) does not exist yet, so this
runs the conformance checks that the foundation can make: `mj probe` against
small servers written here with Python's ssl module, one per test certificate
and per port behaviour (plaintext where TLS was expected, old TLS versions, a
silent server, a refused port).  Each case states the outcome (and reason) the
client must report; the report is a matrix of cases down and adapters across.

Exit status: 0 when every case gives its expected outcome, 1 otherwise.
"""
import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

HOST = "mail.mailjig.test"


class Server(threading.Thread):
    """Accept one connection on 127.0.0.1 and act out `mode`."""

    def __init__(self, mode, cert=None, greeting=b"* OK mailjig conformance\r\n",
                 tls_max=None):
        super().__init__(daemon=True)
        self.mode, self.cert, self.greeting, self.tls_max = mode, cert, greeting, tls_max
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if mode != "refuse":
            self.sock.listen(1)
        self.sock.settimeout(10)

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # weak-key and old versions must load
        if self.tls_max:
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = self.tls_max
        ctx.load_cert_chain(self.cert + ".crt", self.cert + ".key")
        return ctx

    def run(self):
        if self.mode == "refuse":
            self.sock.close()
            return
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(10)
        # Without it Nagle holds the greeting behind TLS 1.3 session tickets.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.mode == "tls":
                conn = self.context().wrap_socket(conn, server_side=True)
            if self.mode in ("tls", "plain"):
                conn.sendall(self.greeting)
            # "silent": say nothing.  Wait for the client to hang up.
            while conn.recv(4096):
                pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()
            self.sock.close()


def cases(certs):
    def cert(name):
        return os.path.join(certs, name)

    rows = []
    ok_verified = ("ok", None, "verified")
    for name, want in [
        ("valid", ok_verified),
        ("valid-rsa", ok_verified),
        ("wildcard", ok_verified),
        ("expired", ("certificate-invalid", "expired", None)),
        ("not-yet-valid", ("certificate-invalid", "not-yet-valid", None)),
        ("self-signed", ("certificate-invalid", "untrusted", None)),
        ("untrusted-ca", ("certificate-invalid", "untrusted", None)),
        ("wrong-host", ("certificate-invalid", "hostname", None)),
        ("cn-only", ("certificate-invalid", "hostname", None)),
        ("client-auth-only", ("certificate-invalid", "purpose", None)),
        ("bad-intermediate", ("certificate-invalid", "chain", None)),
        ("weak-key", ("certificate-invalid", "weak", None)),
    ]:
        rows.append(("certificate", f"imaps {name}",
                     lambda n=name: Server("tls", cert(n)), "implicit", [], want))
    rows += [
        ("tls", "imaps insecure self-signed", lambda: Server("tls", cert("self-signed")),
         "implicit", ["--insecure"], ("ok", None, "unverified")),
        ("tls", "imaps tls1.1-only server", lambda: Server(
            "tls", cert("valid-rsa"), tls_max=ssl.TLSVersion.TLSv1_1),
         "implicit", [], ("tls-failed", "version", None)),
        ("port", "smtps to a plaintext 587", lambda: Server(
            "plain", greeting=b"220 mail.mailjig.test ESMTP ready\r\n"),
         "implicit", [], ("tls-failed", "plaintext", None)),
        ("port", "imaps to a plaintext 143", lambda: Server("plain"),
         "implicit", [], ("tls-failed", "plaintext", None)),
        ("port", "imap plaintext greeting", lambda: Server("plain"),
         "none", [], ("ok", None, "none")),
        ("port", "connection refused", lambda: Server("refuse"),
         "none", [], ("connect-failed", "refused", None)),
        ("timeout", "silent server, implicit TLS", lambda: Server("silent"),
         "implicit", ["--timeout-ms", "500"], ("timeout", None, None)),
        ("timeout", "silent server, greeting", lambda: Server("silent"),
         "none", ["--timeout-ms", "500"], ("timeout", None, None)),
    ]
    return rows


def run_mj(mj, certs, server, security, extra):
    scheme = "imaps" if security == "implicit" else "imap"
    cmd = [mj, "--json", "--security", security, "--cafile", os.path.join(certs, "ca.crt"),
           "--resolve", f"{HOST}:{server.port}:127.0.0.1", *extra,
           f"{scheme}://{HOST}:{server.port}/", "probe"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, timeout=30)
    elapsed = time.monotonic() - start
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        out = {"outcome": "?", "message": proc.stdout.decode(errors="replace")
               + proc.stderr.decode(errors="replace")}
    return out, proc.returncode, elapsed


def judge(out, want):
    outcome, reason, tls_state = want
    if out.get("outcome") != outcome:
        return False
    if reason and out.get("reason") != reason:
        return False
    if tls_state and out.get("result", {}).get("tls", {}).get("state") != tls_state:
        return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", help="scenario directory (needs the harness, issue #4)")
    ap.add_argument("--adapters", default="mj")
    args = ap.parse_args()
    certs = os.environ.get("MJ_CERTS", "build/certs")
    mj = os.path.join(os.environ.get("MJ_BIN", "build/gcc/bin"), "mj")
    adapters = args.adapters.split(",")
    if adapters != ["mj"]:
        print("conformance: only the mj adapter exists until the harness lands", file=sys.stderr)
        return 2
    if args.scenarios:
        print("conformance: running YAML scenarios needs mjfake and the harness (issues #3, #4)",
              file=sys.stderr)
        return 2

    failures = 0
    results = []
    for group, name, make_server, security, extra, want in cases(certs):
        server = make_server()
        server.start()
        out, rc, elapsed = run_mj(mj, certs, server, security, extra)
        server.join(15)
        ok = judge(out, want)
        failures += not ok
        results.append((group, name, ok, out, want, elapsed))

    width = max(len(r[1]) for r in results)
    print(f"\nmailjig transport conformance ({len(results)} cases)\n")
    print(f"  {'case':<{width}}  mj")
    last = None
    for group, name, ok, out, want, elapsed in results:
        if group != last:
            print(f"[{group}]")
            last = group
        got = out.get("outcome", "?") + (f"/{out['reason']}" if out.get("reason") not in
                                         (None, "none") else "")
        mark = "PASS" if ok else "FAIL"
        print(f"  {name:<{width}}  {mark}  {got}  ({elapsed * 1000:.0f} ms)")
        if not ok:
            print(f"      expected {want[0]}" + (f"/{want[1]}" if want[1] else "")
                  + (f" tls={want[2]}" if want[2] else ""))
            print(f"      message: {out.get('message', '')}")
    print(f"\n{len(results) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
