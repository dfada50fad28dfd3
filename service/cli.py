"""The `carepath` command line: serve, the timer worker, the database, users and demo data, and
checking and simulating models."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pathways.clock import SystemClock
from pathways.content import REFERENCE_BUNDLE
from pathways.models import validate_paths
from service.core.schemas import MAX_ID, id_from
from service.core.settings import Settings, get_settings
from service.core.tables import ROLES
from service.models.simulate import run_simulation


def _validate(args: argparse.Namespace) -> int:
    problems = validate_paths([Path(p) for p in args.paths])
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(args.paths)}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    return run_simulation(Path(args.bundle), verbose=not args.quiet)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as err:
        for problem in err.errors():
            print(f"carepath: configuration error: {_setting_problem(problem)}",
                  file=sys.stderr)
        raise SystemExit(2) from None


def _setting_problem(problem: Any) -> str:
    """One line: the environment variable, what is wrong and the value given."""
    message = str(problem["msg"]).removeprefix("Value error, ")
    if not problem["loc"]:  # a rule across settings (the secret key in production)
        return message
    name = "CAREPATH_" + "_".join(str(part) for part in problem["loc"]).upper()
    return f"{name}: {message} (given: {problem['input']!r})"


def _check_exercises() -> None:
    """Read the exercise library (and the clinic's overrides file) now: a mistake in them
    stops the start with its message, rather than failing a patient's page later."""
    from pathways.exercises import ExerciseError, default_library

    try:
        default_library()
    except ExerciseError as err:
        print(f"carepath: exercise content: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def _db_upgrade(args: argparse.Namespace) -> int:
    from service.core.db import create_db_engine
    from service.models.bootstrap import prepare

    settings = _settings()
    prepare(create_db_engine(settings), settings, SystemClock())
    print(f"database is up to date: {_safe_url(settings.database_url)}")
    return 0


def _db_backup(args: argparse.Namespace) -> int:
    from service.core.backup import BackupError, backup_sqlite

    settings = _settings()
    try:
        backup = backup_sqlite(settings.database_url, Path(args.target))
    except BackupError as err:
        print(f"carepath: {err}", file=sys.stderr)
        return 2
    print(f"backed up {_safe_url(settings.database_url)} to {backup.path} ({backup.size:,} "
          f"bytes, schema revision {backup.revision or 'none'})")
    return 0


def _process_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to 64")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    from service.app import create_app
    from service.core.db import create_db_engine
    from service.models.bootstrap import prepare
    from service.serving import serve, serve_processes

    settings = _settings()
    _check_exercises()
    db = create_db_engine(settings)
    prepare(db, settings, SystemClock())
    if args.demo_if_empty and settings.mode != "production":
        from service.demo.data import load_demo_if_empty

        load_demo_if_empty(db, settings)
    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or settings.workers
    print(f"carepath is serving on http://{host}:{port}/"
          + (f" with {workers} processes" if workers > 1 else "")
          + f"; log in at http://{host}:{port}/login (API docs: http://{host}:{port}/docs)")
    if settings.mode == "development":
        from service.demo.data import credentials_path

        logins = credentials_path(settings)
        if logins.exists():
            print(f"demo logins: {logins}")
    if workers > 1:
        db.dispose()  # each process opens its own connections
        return serve_processes("service.app:create_app", host, port, workers)
    serve(create_app(settings, db=db), host, port)
    return 0


def _worker(args: argparse.Namespace) -> int:
    import threading

    from service.care.worker import run_forever, sweep
    from service.core.db import create_db_engine
    from service.models.registry import EngineRegistry

    settings = _settings()
    _check_exercises()  # the worker's steps start and change programmes
    db = create_db_engine(settings)
    clock = SystemClock()
    engines = EngineRegistry(clock)
    if args.once:
        from service.nudges.sweep import sweep_reminders

        print(f"advanced {sweep(db, clock, engines)} instance(s); sent "
              f"{sweep_reminders(db, clock, engines, settings)} reminder email(s)")
        return 0
    print(f"worker running every {settings.worker_interval_seconds:g} s; Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        run_forever(db, clock, engines, settings.worker_interval_seconds, threading.Event(),
                    settings)
    return 0


def _user_add(args: argparse.Namespace) -> int:
    import getpass

    from pydantic import ValidationError

    from service.core.context import Context
    from service.core.db import create_db_engine, transaction
    from service.core.errors import ServiceError
    from service.models.registry import EngineRegistry
    from service.people.schemas import UserCreate
    from service.people.service import add_user

    settings = _settings()
    db = create_db_engine(settings)
    password = args.password or getpass.getpass("password (8+ characters): ")
    try:
        body = UserCreate(username=args.username, password=password, role=args.role,
                          full_name=args.full_name or "", clinic_id=args.clinic_id,
                          patient_id=args.patient_id)
        clock = SystemClock()
        with transaction(db, write=True) as session:
            user = add_user(Context(session, clock, EngineRegistry(clock)), body)
    except ValidationError as err:
        for error in err.errors():
            print(f"carepath: {'.'.join(map(str, error['loc']))}: {error['msg']}",
                  file=sys.stderr)
        return 2
    except (ServiceError, ValueError) as err:
        print(f"carepath: {err}", file=sys.stderr)
        return 2
    print(f"added {user.role} {user.username} (id {user.id})")
    return 0


def _user_change(args: argparse.Namespace) -> int:
    """`user deactivate|activate|password NAME`: any account, patients' too (the host's
    operator); deactivating an account or changing its password ends all its logins."""
    import getpass

    from service.core.context import Context
    from service.core.db import create_db_engine, transaction
    from service.core.errors import ServiceError
    from service.models.registry import EngineRegistry
    from service.people.auth import hash_password
    from service.people.service import change_account, user_named

    settings = _settings()
    db = create_db_engine(settings)
    clock = SystemClock()
    try:
        password_hash = None
        if args.user_command == "password":
            password = args.password or getpass.getpass("new password (8+ characters): ")
            password_hash = hash_password(password)
        active = {"deactivate": False, "activate": True}.get(args.user_command)
        with transaction(db, write=True) as session:
            ctx = Context(session, clock, EngineRegistry(clock))
            user = change_account(ctx, user_named(ctx, args.username).id or 0, active,
                                  password_hash)
    except (ServiceError, ValueError) as err:
        print(f"carepath: {err}", file=sys.stderr)
        return 2
    done = {"deactivate": "deactivated", "activate": "activated",
            "password": "set a new password for"}[args.user_command]
    ended = "; all its logins have ended" if args.user_command != "activate" else ""
    print(f"{done} {user.role} {user.username} (id {user.id}){ended}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from service.core.db import create_db_engine
    from service.core.errors import ServiceError
    from service.demo.data import load_demo, refuse_in_production
    from service.models.bootstrap import prepare

    settings = _settings()
    try:
        refuse_in_production(settings)
        db = create_db_engine(settings)
        prepare(db, settings, SystemClock())
        load_demo(db, settings, patients=args.patients)
    except (ServiceError, ValueError) as err:
        print(f"carepath: {err}", file=sys.stderr)
        return 2
    return 0


def _model(args: argparse.Namespace) -> int:
    from service.core.db import create_db_engine
    from service.models.bootstrap import prepare
    from service.models.commands import Commands

    settings = _settings()
    db = create_db_engine(settings)
    clock = SystemClock()
    prepare(db, settings, clock)
    commands = Commands(db, clock)
    if args.model_command == "list":
        return commands.list()
    if args.model_command == "deploy":
        return commands.deploy(Path(args.directory))
    if args.model_command == "diff":
        return commands.diff(args.old, args.new)
    if args.model_command == "whatif":
        return commands.whatif(Path(args.directory), args.cohort, args.patients, args.weeks,
                               settings.whatif_max_patients)
    return commands.migrate(args.to, args.episode or [], args.step, args.stratum,
                            args.dry_run)


def _audit(args: argparse.Namespace) -> int:
    """`carepath audit ...`: the auditors' work for the host's operator and scripts."""
    from service.core.db import create_db_engine
    from service.models.bootstrap import prepare

    settings = _settings()
    db = create_db_engine(settings)
    prepare(db, settings, SystemClock())
    if args.audit_command == "verify":
        from service.audit.integrity import verify_command

        return verify_command(db, settings)
    if args.audit_command == "conformance":
        from service.audit.conformance import conformance_command

        return conformance_command(db, settings, args.episode, args.format)
    if args.audit_command == "export":
        from service.audit.exports import export_command

        return export_command(db, settings, args.format, args.start, args.end, Path(args.out),
                              args.identifiable)
    from service.audit.exports import indicators_command

    return indicators_command(db, settings, args.start, args.end, args.format)


def _fhir(args: argparse.Namespace) -> int:
    """`carepath fhir export|import`: an episode as a FHIR Bundle; a referral Bundle taken in."""
    from service.core.db import create_db_engine
    from service.fhir import commands
    from service.models.bootstrap import prepare

    settings = _settings()
    db = create_db_engine(settings)
    prepare(db, settings, SystemClock())
    if args.fhir_command == "export":
        return commands.export_command(db, args.episode)
    return commands.import_command(db, Path(args.file), args.clinic)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _id(text: str) -> int:
    """An id option or argument, within the bounds of every id (`core.schemas.Id`)."""
    found = id_from(text)
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a whole number from 1 to "
                                         f"{MAX_ID})")
    return found


def _positive(text: str) -> int:
    """A count (patients, weeks): a whole number from 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1")
    return int(text)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carepath", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser(
        "validate", help="check BPMN/DMN models: a bundle directory, a file in one, or loose files")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.set_defaults(run=_validate)

    simulate = commands.add_parser(
        "simulate", help="walk one patient of each stratum and each red-flag route through "
                         "the pathway with a simulated clock, printing each step")
    simulate.add_argument("--bundle", default=str(REFERENCE_BUNDLE),
                          help="model bundle directory (default: the reference pathway)")
    simulate.add_argument("--quiet", action="store_true", help="print only the summary")
    simulate.set_defaults(run=_simulate)

    serve = commands.add_parser("serve", help="migrate, then serve the API (and the timer "
                                              "worker in embedded mode)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=_process_count, metavar="N",
                       help="server processes, 1 to 64 (default CAREPATH_WORKERS or 1)")
    serve.add_argument("--demo-if-empty", action="store_true",
                       help="load the demo data first when the database has no patients")
    serve.set_defaults(run=_serve)

    work = commands.add_parser("worker", help="fire due timers (for multi-process set-ups)")
    work.add_argument("--once", action="store_true", help="one sweep, then exit")
    work.set_defaults(run=_worker)

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply migrations (and deploy the "
                                                     "reference pathway if none is deployed)")
    upgrade.set_defaults(run=_db_upgrade)
    backup = db_commands.add_parser(
        "backup", help="copy the embedded SQLite database to a new file while the service "
                       "runs (PostgreSQL: use pg_dump)")
    backup.add_argument("target", metavar="FILE", help="the new file (never overwritten)")
    backup.set_defaults(run=_db_backup)

    user = commands.add_parser("user", help="user commands")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--role", required=True,
                     choices=ROLES)
    add.add_argument("--password", help="prompted for when left out")
    add.add_argument("--full-name")
    add.add_argument("--clinic-id", type=_id)
    add.add_argument("--patient-id", type=_id)
    add.set_defaults(run=_user_add)
    for name, says in [("deactivate", "deactivate an account and end all its logins"),
                       ("activate", "let a deactivated account log in again"),
                       ("password", "set an account's password and end all its logins")]:
        change = user_commands.add_parser(name, help=says)
        change.add_argument("username")
        if name == "password":
            change.add_argument("--password", help="prompted for when left out")
        change.set_defaults(run=_user_change)

    model = commands.add_parser("model", help="model versions: list, deploy, diff, migrate "
                                              "running episodes")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    model_commands.add_parser("list", help="every deployed version, the active one and its "
                                           "running episodes").set_defaults(run=_model)
    deploy = model_commands.add_parser("deploy", help="validate a bundle directory and deploy "
                                                      "it as the newest version")
    deploy.add_argument("directory", metavar="DIR")
    deploy.set_defaults(run=_model)
    diff = model_commands.add_parser("diff", help="what changed from version A to version B")
    diff.add_argument("old", metavar="A", type=_id)
    diff.add_argument("new", metavar="B", type=_id)
    diff.set_defaults(run=_model)
    migrate = model_commands.add_parser(
        "migrate", help="move running episodes to a version (each in its own transaction); "
                        "exits 1 if any is refused")
    migrate.add_argument("--to", required=True, type=_id, metavar="VERSION")
    migrate.add_argument("--episode", type=_id, action="append", metavar="N",
                         help="an episode to move (repeat for more; default: every running "
                              "episode on another version)")
    migrate.add_argument("--step", help="only episodes at this step (its id)")
    migrate.add_argument("--stratum", choices=("low", "medium", "high"))
    migrate.add_argument("--dry-run", action="store_true",
                         help="plan only: where each episode is and will be, which timers "
                              "restart; nothing changes")
    migrate.set_defaults(run=_model)
    whatif = model_commands.add_parser(
        "whatif", help="a bundle directory next to the active version over a simulated cohort "
                       "(nothing is written): tasks per week by role, discharge, escalations, "
                       "indicators")
    whatif.add_argument("directory", metavar="DRAFT_DIR")
    whatif.add_argument("--cohort", choices=("finished", "synthetic"), default="synthetic",
                        help="replay finished episodes' answers, or synthetic patients drawn "
                             "from the clinic's mix (default)")
    whatif.add_argument("--patients", type=_positive, default=200, metavar="N")
    whatif.add_argument("--weeks", type=_positive, default=16, metavar="W",
                        help="weeks from each referral (default 16)")
    whatif.set_defaults(run=_model)

    audit = commands.add_parser("audit", help="the auditors' log check, exports and "
                                              "indicators")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="check the event log's keyed chain against its checkpoints; names "
                       "the first bad event").set_defaults(run=_audit)
    conformance = audit_commands.add_parser(
        "conformance", help="how episodes' paths conform to their model versions: one "
                            "episode, or counts per deviation over the last 365 days")
    conformance.add_argument("--episode", type=_id, metavar="N")
    conformance.add_argument("--format", default="table", choices=("table", "json"))
    conformance.set_defaults(run=_audit)
    export = audit_commands.add_parser(
        "export", help="events (csv, jsonl, xes) or the access log (fhir) of a period to a "
                       "file, pseudonymised unless --identifiable gives a reason (logged)")
    export.add_argument("--format", required=True, choices=("csv", "jsonl", "xes", "fhir"))
    export.add_argument("--from", dest="start", required=True, type=_date, metavar="DATE")
    export.add_argument("--to", dest="end", required=True, type=_date, metavar="DATE")
    export.add_argument("--out", required=True, metavar="FILE")
    export.add_argument("--identifiable", metavar="REASON",
                        help="export real ids and names; the reason is logged")
    export.set_defaults(run=_audit)
    indicators = audit_commands.add_parser(
        "indicators", help="the adherence indicators of a period to standard output "
                           "(pseudonymised, small counts suppressed)")
    indicators.add_argument("--from", dest="start", required=True, type=_date, metavar="DATE")
    indicators.add_argument("--to", dest="end", required=True, type=_date, metavar="DATE")
    indicators.add_argument("--format", default="csv", choices=("csv", "json"))
    indicators.set_defaults(run=_audit)

    fhir = commands.add_parser("fhir", help="FHIR R4: an episode as a Bundle, a referral "
                                            "Bundle taken in")
    fhir_commands = fhir.add_subparsers(dest="fhir_command", required=True)
    fhir_export = fhir_commands.add_parser(
        "export", help="print an episode as a FHIR R4 Bundle (JSON)")
    fhir_export.add_argument("--episode", required=True, type=_id, metavar="N")
    fhir_export.set_defaults(run=_fhir)
    fhir_import = fhir_commands.add_parser(
        "import", help="refer the patient of a FHIR referral Bundle (a Patient and a "
                       "ServiceRequest) to a clinic: a patient and an episode")
    fhir_import.add_argument("file", metavar="FILE")
    fhir_import.add_argument("--clinic", required=True, type=_id, metavar="N")
    fhir_import.set_defaults(run=_fhir)

    demo = commands.add_parser("demo", help="create a demo clinic, users of every role and "
                                            "patients at every stage (prints the passwords)")
    demo.add_argument("--patients", type=int, default=40)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
