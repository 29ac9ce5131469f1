#!/usr/bin/env python3
"""tools/up's development price source: serves DIR (devchain_price_files
writes DIR/simple/price) on 127.0.0.1:PORT until SIGTERM, then exits 0 like
the services do, so tools/up can tell a clean stop from a crash.

    serve_prices.py PORT DIR
"""
import functools
import http.server
import signal
import sys


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    # The fetcher polls every few minutes; its requests need no log line.
    def log_message(self, format, *args):
        pass


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
