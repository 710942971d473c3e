"""The `sipnotify` command line: `serve`, `check-config`, `notify` and `show`.

Owns argument parsing, logging set-up and exit codes (0 fine, 1 configuration or start-up
error, 2 wrong usage); the work itself is app.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sipnotify import __version__, app
from sipnotify.cli import amiclient as client
from sipnotify.cli import db, fleet, show
from sipnotify.config.datadir import DEFAULT_USER, default_data_dir, read_secret, secret_path
from sipnotify.config.load import Config
from sipnotify.config.parser import ConfigError
from sipnotify.fleet.catalogue import load_catalogue


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
    database = commands.add_parser("db", help="make or check the PostgreSQL schema (realtime)")
    database.add_argument("action", choices=("upgrade", "check"))
    database.add_argument(
        "--config-dir", type=Path, required=True,
        help="folder with sorcery.conf, extconfig.conf and res_pgsql.conf",
    )  # fmt: skip
    _notify_arguments(commands)
    _show_arguments(commands)
    _fleet_arguments(commands)
    serve.add_argument("--ami-port", type=int, help="listen for AMI on this port instead")
    serve.add_argument(
        "--sip-port", type=int, help="embedded defaults only: listen for SIP on this port instead"
    )
    serve.add_argument(
        "--http-port", type=int, help="embedded defaults only: serve HTTP on this port instead"
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="least severe log level to print (default: %(default)s)",
    )
    return parser


def _fleet_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for verb, text in (("resync", "have phones re-read their configuration"),
                       ("reboot", "restart phones and learn which really did"),
                       ("mwi", "set the message-waiting lamp of phones")):  # fmt: skip
        command = commands.add_parser(verb, help=f"{text} (a fleet job through a running server)")
        if verb == "mwi":
            command.add_argument("--new", type=int, default=0, help="new voice messages (0: off)")
            command.add_argument("--old", type=int, default=0, help="old voice messages")
        _selection_arguments(command)
        command.add_argument(
            "--rate", default="", help="phones per second (default 5), or unlimited"
        )
        command.add_argument("--in-flight", default="", help="NOTIFYs in flight at once (20)")
        command.add_argument("--per-address", default="", help="at once per address (4)")
        command.add_argument("--at", default="", metavar="UNIX_TIME", help="start then")
        command.add_argument("--deadline", default="", metavar="SECONDS", help="retry until (3600)")
        command.add_argument("--dry-run", action="store_true", help="show, do not send")
        command.add_argument("--yes", action="store_true", help="confirm a reboot of many phones")
        _format_arguments(command)
        _ami_arguments(command)
        command.add_argument("--timeout", type=float, default=3600.0, help="seconds (3600)")
    jobs = commands.add_parser("jobs", help="list, show, pause, resume or cancel fleet jobs")
    jobs.add_argument(
        "what", nargs="?", default="list", choices=("list", "show", "pause", "resume", "cancel")
    )
    jobs.add_argument("job_id", nargs="?", default="")
    _format_arguments(jobs)
    _ami_arguments(jobs)
    jobs.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")


def _format_arguments(command: argparse.ArgumentParser) -> None:
    form = command.add_mutually_exclusive_group()
    for name in ("json", "csv"):
        form.add_argument(
            f"--{name}",
            dest="format",
            action="store_const",
            const=fleet.Format(name),
            help=f"print the phones as {name.upper()}",
        )
    command.set_defaults(format=fleet.Format.TEXT)


def _selection_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--all", action="store_true", help="every endpoint")
    command.add_argument("--endpoint", action="append", default=[], metavar="NAME")
    command.add_argument("--match", default="", metavar="GLOB", help="endpoint names like GLOB")
    command.add_argument("--regex", default="", help="endpoint names matching a regex")
    command.add_argument("--user-agent", default="", metavar="REGEX", help="registered User-Agent")
    command.add_argument("--aor", action="append", default=[], metavar="NAME")
    command.add_argument("--registration", default="", choices=("", "registered", "static"))


def _show_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    show_command = commands.add_parser(
        "show", help="list endpoints or registered contacts of a running sipnotify"
    )
    show_command.add_argument("what", choices=("endpoints", "contacts", "endpoint"))
    show_command.add_argument("name", nargs="?", default="", help="the endpoint, for `endpoint`")
    _ami_arguments(show_command)
    show_command.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")


def _ami_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", default=os.environ.get("SIPNOTIFY_AMI_HOST", "127.0.0.1"))
    command.add_argument(
        "--port", type=int, default=int(os.environ.get("SIPNOTIFY_AMI_PORT", "5038"))
    )
    command.add_argument("--username", default=os.environ.get("SIPNOTIFY_USERNAME", DEFAULT_USER))
    command.add_argument(
        "--secret",
        default=os.environ.get("SIPNOTIFY_SECRET"),
        help="default: $SIPNOTIFY_SECRET, else the data directory's generated secret",
    )
    command.add_argument("--data-dir", type=Path, default=default_data_dir())


def _notify_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notify = commands.add_parser(
        "notify",
        help="send a NOTIFY through a running sipnotify (or Asterisk) and print each answer",
    )
    what = notify.add_mutually_exclusive_group(required=True)
    what.add_argument("--option", metavar="TYPE", help="a pjsip_notify.conf section")
    what.add_argument(
        "--var", metavar="NAME=VALUE", action="append", help="a header, Content-Type or Content"
    )
    notify.add_argument("--endpoint", action="append", default=[], metavar="NAME")
    notify.add_argument("--uri", action="append", default=[], metavar="URI")
    notify.add_argument("--channel", action="append", default=[], metavar="NAME")
    _ami_arguments(notify)
    notify.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "notify":
        return _notify(args)
    if args.command == "show":
        return _show(args)
    if args.command in ("resync", "reboot", "mwi"):
        return _fleet(args)
    if args.command == "jobs":
        return _jobs(args)
    if args.command == "db":
        return db.run(args.action, args.config_dir)
    return _serve_or_check(args)


def _serve_or_check(args: argparse.Namespace) -> int:
    options = app.ServeOptions(
        config_dir=args.config_dir,
        data_dir=args.data_dir,
        ami_port=getattr(args, "ami_port", None),
        sip_port=getattr(args, "sip_port", None),
        http_port=getattr(args, "http_port", None),
    )
    if options.config_dir is not None and (options.sip_port, options.http_port) != (None, None):
        print("sipnotify: --sip-port and --http-port apply to the embedded defaults only",
              file=sys.stderr)  # fmt: skip
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
    except OSError as exc:  # the data directory cannot be created or written
        logging.getLogger("sipnotify").error(
            "cannot keep the AMI secret in %s: %s", options.data_dir, exc.strerror or exc
        )
        return 1
    return app.serve(config, options)


def _notify(args: argparse.Namespace) -> int:
    if not args.endpoint and not args.uri and not args.channel:
        print("sipnotify notify: give at least one --endpoint, --uri or --channel", file=sys.stderr)
        return 2
    variables = []
    for item in args.var or ():
        name, equals, value = item.partition("=")
        if not equals or not name:
            print(f"sipnotify notify: --var {item!r} is not NAME=VALUE", file=sys.stderr)
            return 2
        variables.append((name, value))
    secret = _secret(args)
    if secret is None:
        return 2
    request = client.Request(args.option, variables, args.endpoint, args.uri, args.channel)
    server = client.Server(args.host, args.port, args.username, secret)
    reports = client.reports_for(request)
    try:
        asyncio.run(
            asyncio.wait_for(client.notify(server, request, reports, _print_now), args.timeout)
        )
    except client.ClientError as exc:
        print(f"sipnotify notify: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        for report in reports:
            if not report.done:
                _print_now(client.unfinished(report, args.timeout))
        print(f"sipnotify notify: timed out after {args.timeout:g} s", file=sys.stderr)
        return 1
    return 0 if all(report.ok for report in reports) else 1


def _fleet_fields(args: argparse.Namespace) -> list[tuple[str, str]]:
    what = ("MWI", f"{args.new}/{args.old}") if args.command == "mwi" else ("Verb", args.command)
    optional = (("Match", args.match), ("Regex", args.regex), ("UserAgent", args.user_agent),
                ("Registration", args.registration), ("Rate", args.rate),
                ("InFlight", args.in_flight), ("PerAddress", args.per_address),
                ("StartAt", args.at), ("Deadline", args.deadline))  # fmt: skip
    fields = [what, *((name, value) for name, value in optional if value)]
    fields += [("Endpoint", e) for e in args.endpoint] + [("AOR", a) for a in args.aor]
    flags = (("All", args.all), ("DryRun", args.dry_run), ("Confirm", args.yes))
    return fields + [(name, "yes") for name, on in flags if on]


def _fleet(args: argparse.Namespace) -> int:
    """Exit 0 when every phone did it (answered; confirmed, for a reboot), 3 when the job ended
    without that, 1 when it could not start or be followed, 2 for usage."""
    secret = _secret(args)
    if secret is None:
        return 2
    from sipnotify.cli import present  # noqa: PLC0415 (rich, 3 MB: not loaded by serve)

    server = client.Server(args.host, args.port, args.username, secret)
    report = fleet.JobReport(reboot=args.command == "reboot")
    watcher = present.watcher(args.format, sys.stdout)
    try:
        following = fleet.run_job(server, _fleet_fields(args), report, watcher)
        asyncio.run(asyncio.wait_for(following, args.timeout))
    except client.ClientError as exc:
        print(f"sipnotify {args.command}: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"sipnotify {args.command}: the job did not end within {args.timeout:g} s "
              "(it goes on: `sipnotify jobs`)", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        watcher.close()
    if report.dry_run:
        _print_dry_run(report)
        return 0
    present.result(report, args.format, sys.stdout)
    return 0 if report.ok else 3


def _print_dry_run(report: fleet.JobReport) -> None:
    for phone in report.dry_run:
        print(f"{phone.get('Endpoint')} {phone.get('URI')} [{phone.get('Vendor')}] "
              f"{phone.get('UserAgent') or '-'}")  # fmt: skip
        print("".join(f"    {line}\n" for line in phone.get_all("Request")), end="")


CHANGES = {"pause": "FleetPause", "resume": "FleetResume", "cancel": "FleetCancel"}
JOB_COLUMNS = ("JobID", "Order", "State", "Total", "Answered", "Confirmed", "Ignored", "Failed")


def _jobs(args: argparse.Namespace) -> int:
    secret = _secret(args)
    if secret is None:
        return 2
    if args.what != "list" and not args.job_id:
        print(f"sipnotify jobs {args.what}: give the job id", file=sys.stderr)
        return 2
    server = client.Server(args.host, args.port, args.username, secret)
    try:
        if args.what in CHANGES:
            changed = fleet.change(server, CHANGES[args.what], args.job_id)
            print(asyncio.run(asyncio.wait_for(changed, args.timeout)))
            return 0
        listed = fleet.jobs(server) if args.what == "list" else fleet.job(server, args.job_id)
        items = asyncio.run(asyncio.wait_for(listed, args.timeout))
    except client.ClientError as exc:
        print(f"sipnotify jobs: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"sipnotify jobs: no answer within {args.timeout:g} s", file=sys.stderr)
        return 1
    if args.what == "show" and not items:
        print(f"sipnotify jobs: no job {args.job_id}", file=sys.stderr)
        return 1
    from sipnotify.cli import present  # noqa: PLC0415 (rich, 3 MB: not loaded by serve)

    names = fleet.PHONE_COLUMNS if args.what == "show" else JOB_COLUMNS
    rows = [{name: item.get(name) for name in names} for item in items]
    present.listing(rows, names, args.format, sys.stdout)
    return 0


def _print_now(line: str) -> None:
    print(line, flush=True)


def _secret(args: argparse.Namespace) -> str | None:
    secret: str | None = args.secret or read_secret(secret_path(args.data_dir))
    if secret is None:
        print(
            f"sipnotify {args.command}: no AMI secret: pass --secret, set SIPNOTIFY_SECRET, or "
            "start `sipnotify serve` once on the embedded defaults (no secret in "
            f"{secret_path(args.data_dir)})",
            file=sys.stderr,
        )
    return secret


def _show(args: argparse.Namespace) -> int:
    secret = _secret(args)
    if secret is None:
        return 2
    server = client.Server(args.host, args.port, args.username, secret)
    try:
        lines, ok = asyncio.run(
            asyncio.wait_for(show.render(server, args.what, args.name), args.timeout)
        )
    except client.ClientError as exc:
        print(f"sipnotify show: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(
            f"sipnotify show: no complete answer from {args.host}:{args.port} within "
            f"{args.timeout:g} s",
            file=sys.stderr,
        )
        return 1
    for line in lines:
        print(line)
    return 0 if ok else 1


def _check(options: app.ServeOptions) -> int:
    try:
        config = app.load(options, generate_secret=False)
        catalogue = load_catalogue(options.config_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"error: cannot read {exc.filename or options.data_dir}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    for warning in _warnings(config, options):
        print(f"warning: {warning}", file=sys.stderr)
    users = len(config.manager.users)
    presets = len(config.notify.by_name)
    pjsip = config.pjsip
    print(
        f"configuration OK: {config.directory} ({users} AMI users, {presets} notify types, "
        f"{len(pjsip.transports)} transports, {len(pjsip.endpoints)} endpoints, "
        f"{len(pjsip.aors)} AORs, {len(catalogue.vendors)} phone vendors)"
    )
    return 0


def _warnings(config: Config, options: app.ServeOptions) -> list[str]:
    """The configuration's warnings, and what a new user would want to be told: AMI off, no
    SIP transport. On the embedded defaults before the first start, the missing `admin`
    secret is not a problem: `serve` generates it."""
    path = secret_path(options.data_dir)
    first_start = options.config_dir is None and read_secret(path) is None
    found = [str(w) for w in config.warnings if not (first_start and "has no secret" in w.message)]
    if first_start:
        print(f"note: the secret of '{DEFAULT_USER}' is generated at the first start into {path}")
    if not config.manager.general.enabled:
        found.append(
            "AMI is disabled (manager.conf [general] has no 'enabled = yes'): "
            "nothing can ask for a NOTIFY"
        )
    if not config.pjsip.transports:
        found.append("pjsip.conf has no transport: no NOTIFY can be sent, no phone can register")
    return found
