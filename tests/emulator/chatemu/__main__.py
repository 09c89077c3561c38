"""python -m chatemu --port PORT: run the emulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(prog="chatemu", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when standard input reaches end of file (the parent went away)")
    args = parser.parse_args()

    started = time.monotonic()
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from .app import EmulatorApp

    class Handler(MotoRequestHandler):
        # Keep-alive for the SDKs' connection pools, and no Nagle delay between
        # the header and body writes (40 ms stalls with delayed ACKs otherwise).
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if args.verbose:
                super().log_request(code, size)

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    app = EmulatorApp()
    app.warm()
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    server.daemon_threads = True
    port = server.socket.getsockname()[1]

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_stdin:
        def watch() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop()

        threading.Thread(target=watch, daemon=True).start()

    print(f"emulator listening on http://127.0.0.1:{port}", flush=True)
    if args.verbose:
        print(f"started in {time.monotonic() - started:.2f}s", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
