"""smtp_sink.py PORT DIR [CERT KEY] — a real SMTP server (aiosmtpd) for the
activity tests.

With CERT and KEY the server offers STARTTLS and requires it before MAIL.

Every accepted message is written to DIR/msgNNN.eml, prefixed with
X-Envelope-From / X-Envelope-To lines. Recipients at reject.example get a
permanent 550, at later.example a temporary 451. DIR/ready appears once the
server listens; SIGTERM stops it.
"""
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@reject.example"):
            return "550 5.1.1 mailbox unavailable"
        if address.endswith("@later.example"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            path = os.path.join(self.directory, "msg%03d.eml" % self.count)
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\nX-Sink-TLS: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos),
            "yes" if session.ssl else "no")
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode())
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    params = {}
    if len(sys.argv) > 4:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        params = {"tls_context": ctx, "require_starttls": True}
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **params)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(os.path.join(directory, "ready"), "w") as f:
        f.write("ok\n")
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
