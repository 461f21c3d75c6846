"""A real SMTP server for the alert tests: aiosmtpd on loopback, writing every message it
accepts to a directory as <n>.eml plus <n>.json (envelope sender and recipients), written to a
temporary name then renamed so the test never reads half a message.

    python smtp_sink.py --port PORT --dir DIR

Stops when killed (the test's harness kills it by PID when dropped)."""

import argparse
import json
import os
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        stem = os.path.join(self.directory, f"{self.n:05d}")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
        for ext, data in ((".eml", envelope.original_content), (".json", json.dumps(meta).encode())):
            tmp = stem + ext + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, stem + ext)
        return "250 2.0.0 Ok: queued as sink-%d" % self.n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    c = Controller(Sink(a.dir), hostname="127.0.0.1", port=a.port)
    c.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


if __name__ == "__main__":
    main()
