"""A real SMTP server for keydesk's mail tests, built on aiosmtpd.

Every accepted message is written to DIR/new/<n>.eml (raw bytes as
received) with DIR/new/<n>.json beside it (envelope sender, recipients,
whether the session was TLS, the authenticated user). Files are written to
DIR/tmp first and renamed, so a reader never sees half a message.

Modes, combinable:
  --tls-cert/--tls-key   offer STARTTLS and require it before MAIL
  --auth USER:PASSWORD   require AUTH (PLAIN/LOGIN) before MAIL
  --reject-rcpt TEXT     answer 550 to any recipient containing TEXT
  --tempfail-rcpt TEXT   answer 451 to any recipient containing TEXT
  --hang                 accept TCP connections and never say a word
  --hang-after-data      take the whole message after DATA, then never answer
                         (and never keep it: unacknowledged is not accepted)
  --slow SECONDS         wait this long before every reply

Prints "ready PORT" on stdout once listening.
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Capture:
    def __init__(self, folder, reject, tempfail, hang_after_data=False):
        self.folder = folder
        self.reject = reject
        self.tempfail = tempfail
        self.hang_after_data = hang_after_data
        self.seq = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and self.reject in address:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.tempfail and self.tempfail in address:
            return f"451 4.3.0 <{address}>: Temporary local problem, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hang_after_data:
            # The client has sent the final dot; it never hears back, and
            # the message is dropped when the connection goes.
            await asyncio.sleep(3600)
            return "451 4.3.0 never reached"
        name = f"{os.getpid()}-{next(self.seq):06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "auth_user": (
                session.auth_data.login.decode()
                if isinstance(session.auth_data, LoginPassword)
                else None
            ),
        }
        tmp = os.path.join(self.folder, "tmp")
        new = os.path.join(self.folder, "new")
        with open(os.path.join(tmp, name + ".json"), "w") as f:
            json.dump(meta, f)
        with open(os.path.join(tmp, name + ".eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        # The .json first, so a reader that sees the .eml can read both.
        os.rename(os.path.join(tmp, name + ".json"), os.path.join(new, name + ".json"))
        os.rename(os.path.join(tmp, name + ".eml"), os.path.join(new, name + ".eml"))
        return "250 2.0.0 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


class SlowSMTP(SMTP):
    """Waits before every reply: a relay that is slow but alive."""

    def __init__(self, *args, delay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.delay = delay

    async def push(self, status):
        await asyncio.sleep(self.delay)
        await super().push(status)


async def hang(reader, writer):
    # Hold the connection open without ever greeting.
    await asyncio.sleep(3600)


async def main():
    # The AUTH-without-TLS test means it; the warning is noise there.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth")
    p.add_argument("--reject-rcpt")
    p.add_argument("--tempfail-rcpt")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--hang-after-data", action="store_true")
    p.add_argument("--slow", type=float, default=0.0)
    a = p.parse_args()

    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(a.dir, sub), exist_ok=True)

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

    if a.hang:
        server = await asyncio.start_server(hang, a.host, a.port)
    else:
        handler = Capture(a.dir, a.reject_rcpt, a.tempfail_rcpt, a.hang_after_data)
        kwargs = {"delay": a.slow}
        if a.tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(a.tls_cert, a.tls_key)
            kwargs.update(tls_context=ctx, require_starttls=True)
        if a.auth:
            user, password = a.auth.split(":", 1)
            kwargs.update(
                authenticator=authenticator(user, password),
                auth_required=True,
                auth_require_tls=bool(a.tls_cert),
            )
        server = await loop.create_server(
            lambda: SlowSMTP(handler, hostname="capture.test", **kwargs), a.host, a.port
        )
    print(f"ready {a.port}", flush=True)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
