"""`python -m terminals.serial_gateway --port DEVICE --baud 19200 --config gateway.toml`

Exit codes: 0 after SIGINT/SIGTERM (the queue is on disk, nothing is lost), 2 for a
bad configuration, a bad baud rate or a port that cannot be opened, 1 when the port
fails while running (records taken into custody stay in the queue for the next start).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import serial

from terminals.client import i18n
from terminals.serial_gateway.config import ConfigError, load
from terminals.serial_gateway.gateway import Gateway
from terminals.serial_gateway.messages import text
from terminals.serial_gateway.store import GatewayStore

BAUD_RANGE = (9600, 115200)
PROGRESS_EVERY = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m terminals.serial_gateway",
                                description="OneCard RS-485 reader bus master (serial-bus.md)")
    p.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0 "
                   "(or a pyserial URL such as loop://)")
    p.add_argument("--baud", type=int, default=19200, help="9600 to 115200 (default 19200)")
    p.add_argument("--config", required=True, help="gateway.toml")
    p.add_argument("--lang", default=None, help="en or zh-hans (default: ONECARD_LANG, LANG)")
    p.add_argument("--progress", type=float, default=PROGRESS_EVERY,
                   help="seconds between progress lines (default 10; 0: none)")
    return p.parse_args(argv)


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lang = i18n.language(args.lang)
    if not BAUD_RANGE[0] <= args.baud <= BAUD_RANGE[1]:
        print(text("bad_baud", lang, baud=args.baud), file=sys.stderr)
        return 2
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(exc.text(lang), file=sys.stderr)
        return 2
    try:
        port = serial.serial_for_url(args.port, baudrate=args.baud, bytesize=8, parity="N",
                                     stopbits=1, timeout=0.005)
    except (serial.SerialException, ValueError) as exc:
        print(text("port_unavailable", lang, port=args.port, error=exc), file=sys.stderr)
        return 2
    gateway = Gateway(config, port, baud=args.baud, log=_say, lang=lang)

    def stop(signum: int, frame: FrameType | None) -> None:
        gateway.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    _say(text("gateway_started", lang, port=args.port, baud=args.baud,
              readers=len(config.readers), server=config.server_url, queue=config.queue_path))
    progress = threading.Thread(target=_progress, args=(gateway, args.progress), daemon=True)
    if args.progress > 0:
        progress.start()
    try:
        gateway.run()
    except (serial.SerialException, OSError) as exc:  # the adapter was unplugged, say
        print(text("port_unavailable", lang, port=args.port, error=exc), file=sys.stderr)
        return 1
    finally:
        port.close()
    _say(text("gateway_stopping", lang, pending=_pending(config.queue_path)))
    _say(text("gateway_stopped", lang))
    return 0


def _progress(gateway: Gateway, every: float) -> None:
    while not gateway.stopping.wait(every):
        _say(gateway.progress_line())


def _pending(path: Path) -> int:
    with GatewayStore(path) as store:
        return store.pending_count()


if __name__ == "__main__":
    sys.exit(main())
