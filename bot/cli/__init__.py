"""``roadbot``: the command line. ``main`` parses, dispatches, and turns every known failure into one line.

Exit codes: 0 done; 1 refused (validation, conflict, not found); 2 bad usage or unreadable input;
3 the database is unreachable or not initialised; 4 a remote feed could not be fetched; 70 an unexpected
internal error (a bug: please report).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import pydantic
import sqlalchemy.exc

from bot.cli import admin, botcmds, demo, emergencycmds, exchange, playbookcmds, records, routingcmds, webcmds
from bot.cli.common import CliError, Context, NotInitialised
from bot.cli.routingcmds import RoutingFailed
from bot.config import Settings
from bot.handlers.staff.timeinput import TimeInputError
from bot.web.partners import FetchError
from closures.errors import ConflictError, EmergencyConflict, NotFound, ValidationError
from closures.formats.cap_read import CapError
from closures.playbooks import PlaybookClosureInvalid
from geo.errors import GeometryError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_DATABASE, EXIT_REMOTE, EXIT_INTERNAL = 0, 1, 2, 3, 4, 70

log = logging.getLogger("roadbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roadbot",
        description="Road closures for drivers, on Telegram and X. Manage the registry from the shell.",
        epilog="Exit codes: 0 done, 1 refused, 2 bad usage or input, 3 database problem, 4 remote feed "
        "unreachable, 70 internal error.",
    )
    parser.add_argument(
        "--database-url", help="SQLAlchemy URL (default: $DATABASE_URL or sqlite:///roadbot.sqlite)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more, and show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    admin.register(commands)
    records.register(commands)
    exchange.register(commands)
    demo.register(commands)
    botcmds.register(commands)
    webcmds.register(commands)
    routingcmds.register(commands)
    emergencycmds.register(commands)
    playbookcmds.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roadbot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        settings = Settings()
        if args.database_url:
            settings = settings.model_copy(update={"database_url": args.database_url})
        return int(args.handler(Context(settings), args) or 0)
    except pydantic.ValidationError as exc:  # an unreadable setting in the environment or .env
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        return _fail(args, f"bad configuration: {where}: {error['msg']}", EXIT_USAGE)
    except NotInitialised as exc:  # before CliError, of which it is a kind
        return _fail(args, f"database problem: {exc}", EXIT_DATABASE)
    except RoutingFailed as exc:  # before CliError, of which it is a kind
        return _fail(args, f"routing failed: {exc}", EXIT_REFUSED)
    except (GeometryError, TimeInputError, CliError, PlaybookClosureInvalid) as exc:
        return _fail(args, f"bad input: {exc}", EXIT_USAGE)
    except CapError as exc:  # not CAP, an XML bomb, too large: the whole document refused
        return _fail(args, f"bad input: not a CAP alert or feed: {exc}", EXIT_USAGE)
    except (ValidationError, ConflictError, EmergencyConflict, NotFound) as exc:
        return _fail(args, f"refused: {exc}", EXIT_REFUSED)
    except FetchError as exc:
        return _fail(args, f"remote feed: {exc}", EXIT_REMOTE)
    except sqlalchemy.exc.OperationalError as exc:
        return _fail(args, f"database problem: {_first_line(exc.orig or exc)}", EXIT_DATABASE)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        return _fail(args, f"database problem: {type(exc).__name__}: {_first_line(exc)}", EXIT_DATABASE)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `roadbot closure list | head`): not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # the last line of defence: one line, never a traceback unless asked
        return _fail(
            args,
            f"internal error ({type(exc).__name__}: {_first_line(exc)}); rerun with -v for details",
            EXIT_INTERNAL,
        )


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if args.verbose:
        log.exception(message)
    print(f"roadbot: {_first_line(message)}", file=sys.stderr)
    return code


def _first_line(value: object) -> str:
    """The first non-blank line of ``str(value)``: every failure is said in one line."""
    return next((line.strip() for line in str(value).splitlines() if line.strip()), "")


if __name__ == "__main__":
    sys.exit(main())
