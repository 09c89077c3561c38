"""python -m chatemu --port PORT: run the emulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(prog="chatemu", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=64,
                        help="worker threads, i.e. calls handled (or sleeping injected latency) at once")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when standard input reaches end of file (the parent went away)")
    args = parser.parse_args()

    started = time.monotonic()
    import waitress

    from .app import EmulatorApp

    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr)
    # waitress warns about queued tasks when every thread sleeps injected latency; that is expected.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    app = EmulatorApp(verbose=args.verbose)
    app.warm()
    # waitress keeps HTTP/1.1 connections alive (the SDKs pool them) and sets
    # TCP_NODELAY; werkzeug's dev server closes every connection.
    server = waitress.create_server(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        backlog=1024,
        channel_timeout=300,
        asyncore_use_poll=True,
        clear_untrusted_proxy_headers=True,
        ident="chatctl-emulator",
    )
    port = server.effective_port  # type: ignore[union-attr]

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_stdin:
        def watch() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()

    print(f"emulator listening on http://127.0.0.1:{port}", flush=True)
    if args.verbose:
        print(f"started in {time.monotonic() - started:.2f}s", file=sys.stderr, flush=True)
    server.run()


if __name__ == "__main__":
    main()
