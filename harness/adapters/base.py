"""What every adapter shares: the declaration of what it can express.

An adapter maps a scenario's `client:` (operation, arguments, security mode,
credentials, trust, timeout) to one client, runs it against the endpoint the
harness gives it, and fills a core.Run: outcome class, reason, message,
result, elapsed time, the client's protocol log.  Anything it cannot express
is reported by not_applicable() as a reason; the harness turns that into a
skip "n.a.: <reason>", never into a pass.
"""

SECURITY_MODES = ("none", "implicit", "starttls", "starttls-if-available", "auto")
TRUST_MODES = ("test-ca", "system", "insecure")

IMPLICIT_PORTS = (993, 995, 465)

SCHEMES = {  # protocol -> (plaintext scheme, implicit TLS scheme)
    "imap": ("imap", "imaps"),
    "pop3": ("pop3", "pop3s"),
    "smtp": ("smtp", "smtps"),
}


def effective_security(scenario, port):
    """`auto` resolved by port, as the format says (993/995/465 implicit)."""
    sec = scenario.security
    if sec == "auto":
        return "implicit" if port in IMPLICIT_PORTS else "starttls-if-available"
    return sec


class Adapter:
    name = "?"
    #: operations this adapter can run ("probe", "imap.login", ...)
    ops = frozenset()
    #: security modes it can express
    securities = frozenset(SECURITY_MODES)
    #: trust settings it can express
    trusts = frozenset(TRUST_MODES)
    #: result keys it cannot observe (never compared for it; noted in the report)
    unobservable = frozenset()
    #: whether it can ask for IMAP COMPRESS=DEFLATE (client: compress: true, RFC 4978)
    compress = False
    #: whether it can ENABLE UTF8=ACCEPT (client: utf8: true, RFC 6855)
    utf8 = False
    #: whether it can turn its tolerance of server quirks off (client: strict: true)
    strict = False

    def available(self):
        """None when the client is installed, else why not."""
        return None

    def op_reason(self, scenario):
        """Why this adapter has no such operation (override for detail)."""
        return f"{self.name} has no operation {scenario.op}"

    def not_applicable(self, scenario):
        why = self.available()
        if why:
            return why
        if scenario.op not in self.ops:
            return self.op_reason(scenario)
        if scenario.security not in self.securities:
            return f"{self.name} cannot express security: {scenario.security}"
        trust = scenario.client.get("trust", "test-ca")
        if trust not in self.trusts:
            return f"{self.name} cannot express trust: {trust}"
        if scenario.client.get("mechanism") and not self.supports_mechanism(
                scenario.client["mechanism"]):
            return f"{self.name} cannot force the SASL mechanism {scenario.client['mechanism']}"
        if scenario.client.get("compress") and not self.compress:
            return f"{self.name} cannot ask for COMPRESS=DEFLATE (client: compress)"
        if scenario.client.get("utf8") and not self.utf8:
            return f"{self.name} cannot ENABLE UTF8=ACCEPT (client: utf8)"
        if scenario.client.get("strict") and not self.strict:
            return f"{self.name} has no strict mode (client: strict)"
        return self.extra_na(scenario)

    def supports_mechanism(self, mech):
        return False

    def extra_na(self, scenario):
        return None

    def run(self, scenario, endpoint, workdir, limit_ms, run):
        raise NotImplementedError

    def close(self):
        """Release long-lived resources (worker processes)."""
