"""The `sipnotify` command line: `serve` and `check-config`.

Owns argument parsing, logging set-up and exit codes (0 fine, 1 configuration or start-up
error, 2 wrong usage); the work itself is app.py's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from sipnotify import __version__, app
from sipnotify.config.parser import ConfigError
from sipnotify.datadir import default_data_dir


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sipnotify", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"sipnotify {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the AMI (and SIP) service")
    check = commands.add_parser("check-config", help="validate a configuration and exit")
    for command in (serve, check):
        command.add_argument(
            "--config-dir",
            type=Path,
            help="folder with manager.conf, pjsip.conf, pjsip_notify.conf "
            "(default: the embedded defaults)",
        )
        command.add_argument(
            "--data-dir",
            type=Path,
            default=default_data_dir(),
            help="where generated state is kept (default: %(default)s)",
        )
    serve.add_argument("--ami-port", type=int, help="listen for AMI on this port instead")
    serve.add_argument(
        "--sip-port", type=int, help="embedded defaults only: listen for SIP on this port instead"
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="least severe log level to print (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    options = app.ServeOptions(
        config_dir=args.config_dir,
        data_dir=args.data_dir,
        ami_port=getattr(args, "ami_port", None),
        sip_port=getattr(args, "sip_port", None),
    )
    if options.sip_port is not None and options.config_dir is not None:
        print("sipnotify: --sip-port applies to the embedded defaults only", file=sys.stderr)
        return 2
    if args.command == "check-config":
        return _check(options)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = app.load(options, generate_secret=True)
    except ConfigError as exc:
        logging.getLogger("sipnotify").error("configuration error: %s", exc)
        return 1
    return app.serve(config, options)


def _check(options: app.ServeOptions) -> int:
    try:
        config = app.load(options, generate_secret=False)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    users = len(config.manager.users)
    presets = len(config.notify.by_name)
    pjsip = config.pjsip
    print(
        f"configuration OK: {config.directory} ({users} AMI users, {presets} notify types, "
        f"{len(pjsip.transports)} transports, {len(pjsip.endpoints)} endpoints, "
        f"{len(pjsip.aors)} AORs)"
    )
    return 0
