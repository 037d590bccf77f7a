"""The command line. Thin: parse options, call the engine, render. Only click is imported at start-up.

Exit status: 0 the command did its work (whatever it found); 1 an internal error; 2 bad usage or
unreadable input; 3 the logs held no incident (model/signals.py: an upstream timeout, an unavailable
upstream); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Sequence

import click

if TYPE_CHECKING:
    from .engine.gather import Gathered
    from .engine.runbook import Runbook
    from .model.incident import Incident
    from .model.logscan import LogScan
    from .model.report import Report
    from .model.target import Target
    from .render.progress import Progress

FORMATS = click.Choice(["text", "json", "markdown"])


class _Seconds(click.FloatRange):
    """A FloatRange that also refuses NaN, which passes every range check (each comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if rv != rv:
            self.fail(f"{value!r} is not a number of seconds in the range {self.min}<=x<={self.max}.", param, ctx)
        return rv


class _Bytes(click.types.IntParamType):
    """A size in bytes: 33554432, 32MiB, 512KiB, 1GiB (binary units; MB and M read as MiB)."""

    name = "bytes"
    UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
             "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower().replace(" ", "")
        number = text.rstrip("bgikm")
        unit = text[len(number):]
        if not number.isdigit() or unit not in self.UNITS or not 1024 <= int(number) * self.UNITS[unit] < 1 << 40:
            self.fail(f"{value!r} is not a size between 1KiB and 1TiB (e.g. 32MiB, 1048576).", param, ctx)
        return int(number) * self.UNITS[unit]


class _BundlePath(click.Path):
    """Where `collect` writes: a new directory, or an archive name ending in .tar.gz/.tgz. Another archive
    suffix (.zip, .tar, .tar.xz) would silently become a directory of that name: refused instead."""

    ARCHIVE_LIKE = (".zip", ".tar", ".gz", ".bz2", ".xz", ".zst", ".7z", ".tbz2", ".txz", ".rar")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = _NewPath().convert(value, param, ctx)
        name = os.path.basename(os.fsdecode(rv)).lower()
        if not name.endswith((".tar.gz", ".tgz")) and name.endswith(self.ARCHIVE_LIKE):
            self.fail(f"{os.fsdecode(rv)}: a bundle is a new directory or a .tar.gz archive, not "
                      f"{os.path.splitext(name)[1]}.", param, ctx)
        return rv


class _NewPath(click.Path):
    """A path to write (a report, a bundle): its directory must exist and be writable, so that a typo fails
    before the work does rather than after minutes of collection."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        parent = os.path.dirname(os.path.abspath(os.fsdecode(rv)))
        if not os.path.isdir(parent):
            self.fail(f"{os.fsdecode(rv)}: directory {parent} does not exist.", param, ctx)
        if not os.access(parent, os.W_OK | os.X_OK):
            self.fail(f"{os.fsdecode(rv)}: directory {parent} is not writable.", param, ctx)
        return rv


def _output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--output", "-o", type=_NewPath(dir_okay=False, writable=True),
                     help="Write the report to FILE instead of standard output.")(f)
    f = click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
                     help="text for people, json for machines (the contract's schema), markdown for postmortems.")(f)
    return f


def _source_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options of run and collect besides the sources' own (those come from the registry: _WithSources)."""
    opts = [
        click.option("--timeout", type=_Seconds(min=0.1, max=600), default=5.0, show_default=True,
                     help="Budget per source in seconds; a source that does not answer in time is an error."),
        click.option("--max-response-bytes", type=_Bytes(), default="32MiB", show_default=True,
                     envvar="DIAGNOSE_MAX_RESPONSE_BYTES",
                     help="Largest answer read from a server (Prometheus, Kubernetes API); a larger one is "
                          "refused and its source reports it (or DIAGNOSE_MAX_RESPONSE_BYTES)."),
        click.option("--upstream", help="Diagnose the incident with this upstream, by any part of its name, "
                                        "any case (default: the one with most events)."),
        click.option("--service", help="Diagnose the incident of this caller, by any part of its name, any case "
                                       "(default: the one with most events)."),
        click.option("--log-format", "log_format", type=click.Path(exists=True, dir_okay=False),
                     help="A YAML mapping for an in-house log format: a regex with named groups, or the JSON/logfmt "
                          "keys of each role (docs/logs.md \"Your own format\")."),
        click.option("--log", "logs", multiple=True, type=click.Path(allow_dash=True),
                     help="A log with the incident: timeouts, refused connections (repeatable; - for standard input). "
                          "Required unless --from or -l reads the pods' logs."),
    ]
    for o in opts:
        f = o(f)
    return f


class _WithSources(click.Command):
    """run and collect: their own options and, after --upstream, every registered source's options in the
    registry's order (diagnose/engine/registry.py). Read when the command parses or shows its help, so that
    a source registered after this module was imported has its options too."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        from .engine.registry import sources

        params = super().get_params(ctx)
        at = next(i for i, p in enumerate(params) if p.name == "upstream") + 1
        return params[:at] + [_click_option(o) for s in sources() for o in s.options] + params[at:]


_CLICK_OPTIONS: dict[Any, click.Option] = {}     # Option -> its click.Option, built once (click compares them)


def _click_option(o: Any) -> click.Option:
    """A source's Option (data: diagnose.sources.base.Option) as a click option."""
    if o not in _CLICK_OPTIONS:
        decls = [f"--{o.name}", *([o.short] if o.short else []), o.key]
        if o.kind == "flag":
            _CLICK_OPTIONS[o] = click.Option(decls, is_flag=True, default=bool(o.default), envvar=o.envvar,
                                             help=o.help)
        else:
            kind = {"file": click.Path(exists=True, dir_okay=False),
                    "dir": click.Path(exists=True, file_okay=False)}.get(o.kind)
            _CLICK_OPTIONS[o] = click.Option(decls, type=kind, default=o.default, envvar=o.envvar, help=o.help)
    return _CLICK_OPTIONS[o]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="diagnose", message="diagnose %(version)s")
@click.option("--debug", is_flag=True, envvar="DIAGNOSE_DEBUG", help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find an incident in logs (an upstream timeout, an unavailable upstream), gather evidence, and rank its
    likely causes with the runbook of its signal.

    \b
    Examples:
      diagnose demo
      diagnose logs app.log
      diagnose run --log app.log --prometheus-url http://prometheus:9090 --pg-dsn "host=db dbname=auth"
      diagnose collect --log app.log --out incident-bundle/   then later:   diagnose analyze incident-bundle/
    """
    ctx.obj = {"debug": debug}


# --- run / collect / analyze / demo -----------------------------------------------------------------


@cli.command(cls=_WithSources)
@_source_options
@click.option("--bundle-out", type=_BundlePath(), help="Also keep the evidence gathered, as a bundle.")
@click.option("--runbook", "runbook_name", help="Runbook to use (default: the one matching the log signal).")
@_output_options
def run(logs: Sequence[str], bundle_out: str | None, runbook_name: str | None, fmt: str, output: str | None,
        **opts: Any) -> None:
    """Diagnose from logs and the live sources given; print the ranked causes."""
    from .engine.diagnose import diagnose
    from .render.progress import Progress

    with Progress(enabled=_progress_on(fmt, output)) as progress:
        early = _gather_logs(logs, opts, progress)
    target, scan = _target(logs, opts, early)
    runbook = _runbook(runbook_name, target.incident.signal)
    with Progress(enabled=_progress_on(fmt, output)) as progress:
        target, named = _resolve(target, opts, progress, scan)
        # What else the logs held (after addresses of the diagnosed Service were folded into it).
        others = [i for i in scan.incidents if (i.signal, i.service, i.upstream) not in (
            _key(target.incident), _key(target.incident.as_logged()))]
        gathered = {**early, **named, **_gather(target, opts, progress)}
        if bundle_out:
            _write_bundle(bundle_out, target, gathered, scan)
        report = diagnose(target, gathered, runbook, progress.check, others=others)
    _emit(report, fmt, output)


@cli.command(cls=_WithSources)
@_source_options
@click.option("--out", "out", required=True, type=_BundlePath(),
              help="Bundle to write: a new directory, or a name ending in .tar.gz.")
def collect(logs: Sequence[str], out: str, **opts: Any) -> None:
    """Gather the same evidence as `run` into a bundle, for `diagnose analyze` later. Does not analyse."""
    from .render.escape import one_line
    from .render.progress import Progress

    with Progress(enabled=sys.stderr.isatty()) as progress:
        early = _gather_logs(logs, opts, progress)
    target, scan = _target(logs, opts, early)
    with Progress(enabled=sys.stderr.isatty()) as progress:
        target, named = _resolve(target, opts, progress, scan)
        gathered = {**early, **named, **_gather(target, opts, progress)}
    path = _write_bundle(out, target, gathered, scan)
    click.echo(f"bundle written: {one_line(path)}")
    for name, g in gathered.items():
        # A server's error text is data: shown on its line, escape sequences made visible.
        detail = f" ({one_line(g.status.error)})" if g.status.error else ""
        click.echo(f"  {one_line(name)}: {g.status.status}, {len(g.files)} file(s){detail}")


@cli.command()
@click.argument("bundle", type=click.Path())
@click.option("--runbook", "runbook_name", help="Runbook to use (default: the one matching the log signal).")
@_output_options
def analyze(bundle: str, runbook_name: str | None, fmt: str, output: str | None) -> None:
    """Analyse a bundle offline (a directory or a .tar.gz of one)."""
    _analyze(bundle, runbook_name, fmt, output)


@cli.command()
@_output_options
def demo(fmt: str, output: str | None) -> None:
    """Analyse the bundled example incident (the seed's upstream timeout); no cluster, database or network."""
    from .engine.api import demo_bundle

    path = demo_bundle()
    if fmt == "text" and not output:
        click.echo("Demo: frontend-api answers 500s because it times out waiting for user-auth-service.\n"
                   f"Analysing the recorded evidence in {path} (as `diagnose analyze` would).\n")
    _analyze(str(path), None, fmt, output)


def _analyze(bundle: str, runbook_name: str | None, fmt: str, output: str | None) -> None:
    from .engine.api import open_bundle
    from .engine.diagnose import diagnose

    target, gathered = open_bundle(bundle)
    report = diagnose(target, gathered, _runbook(runbook_name, target.incident.signal))
    _emit(report, fmt, output)


# --- logs -------------------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--log-format", "log_format", type=click.Path(exists=True, dir_okay=False),
              help="A YAML mapping for an in-house log format: a regex with named groups, or the JSON/logfmt keys "
                   "of each role (docs/logs.md \"Your own format\").")
@click.option("--explain", "explain", type=click.Path(dir_okay=False),
              help="Show how the first lines and the first candidate lines of this log are read: the format, the "
                   "rule for each field, why a line is no event.")
@click.option("--lines", "n_lines", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="With --explain: how many lines of each kind.")
@_output_options
def logs(paths: Sequence[str], log_format: str | None, explain: str | None, n_lines: int, fmt: str,
         output: str | None) -> None:
    """Scan logs and print the incidents found (signal, caller, upstream, count, first/last seen, durations)."""
    from .engine.api import scan_logs
    from .render import logs as render_logs

    if explain:
        _explain(explain, n_lines, log_format, fmt, output)
        return
    if not paths:
        raise click.UsageError("Missing argument 'PATHS...'.")
    result = scan_logs(paths, stdin=sys.stdin.buffer if "-" in paths else None, log_format=log_format)
    if fmt == "json":
        import json

        _write(json.dumps(render_logs.to_json(result), indent=2) + "\n", output)
    elif fmt == "markdown":
        _write(render_logs.to_markdown(result), output)
    else:
        _with_console(output, lambda console: render_logs.to_text(result, console))
    if not result.incidents:
        # As `run` does when the logs hold nothing to diagnose (README: exit 3), after the report: a script
        # can tell "nothing found" from "done" without parsing it.
        click.get_current_context().exit(3)


def _explain(path: str, n: int, log_format: str | None, fmt: str, output: str | None) -> None:
    import json

    from .engine.api import explain_logs
    from .render.escape import one_line

    rows = explain_logs(path, lines=n, log_format=log_format)
    if fmt == "json":
        _write(json.dumps({"path": path, "lines": rows}, indent=2) + "\n", output)
        return
    out = []
    for r in rows:
        head = f"line {r['line']} ({', '.join(r['picked'])}): {r['format']}"
        if r.get("wrapper"):
            head += f", after peeling a {r['wrapper']} wrapper"
        out.append(one_line(head))
        out.append("  " + one_line(r["text"]))
        for name, rule in r["fields"].items():
            value = r["event"].get(name) if r["event"] else None
            shown = f" = {one_line(value)}" if value is not None else ""
            out.append(f"    {one_line(name)}{shown}: {one_line(rule)}")
        if r["event"] is None:
            out.append(f"    not an event: {one_line(r['reason'])}")
    _write("\n".join(out) + "\n", output)


# --- runbooks ---------------------------------------------------------------------------------------


@cli.group()
def runbooks() -> None:
    """Inspect and validate runbooks (runbooks/*.yaml, and DIAGNOSE_RUNBOOKS directories)."""


@runbooks.command("list")
def runbooks_list() -> None:
    """List the runbooks: name, the log signals they answer, their causes."""
    from .engine.runbook import load_all
    from .render.escape import one_line

    for rb in load_all():
        click.echo(one_line(f"{rb.name:<20} signals: {', '.join(rb.signals):<20} causes: "
                            f"{', '.join(s.cause for s in rb.steps)}  ({rb.path})"))


@runbooks.command("show")
@click.argument("name")
def runbooks_show(name: str) -> None:
    """Show one runbook: its steps in order, priors, checks, thresholds and fixes."""
    from .engine.registry import checks
    from .engine.runbook import find
    from .render.escape import one_line

    rb = find(name)
    # Runbook text is a file's: each value stays on its line (one_line); the layout is ours.
    click.echo(f"{one_line(rb.name)}: {one_line(rb.title)}\n  file: {one_line(rb.path)}\n"
               f"  answers: {one_line(', '.join(rb.signals))}")
    click.echo(f"  verdicts: likely >= {rb.verdicts['likely']}, possible >= {rb.verdicts['possible']}, "
               f"unlikely >= {rb.verdicts['unlikely']}")
    for n, step in enumerate(rb.steps, 1):
        click.echo(f"\n{n}. {one_line(step.cause)} (prior {step.prior:g}): {one_line(step.title)}")
        if step.diagnosis:
            click.echo(f"   diagnosis: {one_line(step.diagnosis)}")
        for cid in step.checks:
            params = rb.params_for(checks()[cid])
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            click.echo(f"   check {cid}: {one_line(shown)}")
        for fix in step.fixes:
            click.echo(f"   fix: {one_line(fix.summary)}")
            for c in fix.commands:
                click.echo(f"     $ {one_line(c)}")
    for rel in rb.relations:
        cause, effect = one_line(rel.cause), one_line(rel.effect)
        click.echo(f"\n{cause} can explain {effect}: later {effect} signals weigh x{rel.discount:g}")


@runbooks.command("validate")
@click.argument("path", required=False, type=click.Path())
def runbooks_validate(path: str | None) -> None:
    """Validate runbooks: all of them, a directory, or one file. Errors name file, line and field."""
    from pathlib import Path

    from .engine.runbook import load, runbook_files
    from .errors import InputError

    if path is None:
        files = runbook_files()
    elif Path(path).is_dir():
        files = runbook_files([Path(path)])
    elif Path(path).exists():
        files = [Path(path)]
    else:
        raise InputError("no such file or directory", path=path)
    if not files:
        raise InputError("no runbooks (*.yaml) found", path=path)
    from .errors import DiagnoseError
    from .render.escape import one_line

    bad = 0
    for f in files:     # every file, so one run lists every broken runbook, not the first
        try:
            rb = load(f)
        except DiagnoseError as e:
            if len(files) == 1:
                raise       # one file: its error is the one line
            bad += 1
            click.echo(f"diagnose: error: {one_line(str(e))}", err=True)
            continue
        click.echo(one_line(f"ok  {f}  ({rb.name}: {len(rb.steps)} causes, {len(rb.check_ids())} checks)"))
    if bad:
        raise InputError(f"{bad} of {len(files)} runbook(s) invalid", path=path or "runbooks")


# --- helpers ----------------------------------------------------------------------------------------


def _gather_logs(logs: Sequence[str], opts: dict[str, Any], progress: Progress) -> dict[str, Gathered]:
    """The sources that give logs (pod-logs: --from, -l), gathered before the incident is known."""
    from .engine.api import gather_logs

    early = gather_logs(opts, progress.source)
    given = {n: g for n, g in early.items() if g.status.status != "skipped"}
    if not logs and not given:
        raise click.UsageError("give a log (--log PATH) or the pods to read logs from "
                               "(--from deploy/NAME, -l SELECTOR)")
    if not logs and all(g.status.status == "error" for g in given.values()):
        from .errors import InputError

        name, g = next(iter(given.items()))
        raise InputError(f"no logs: {g.status.error}", path=name)
    return early


def _target(logs: Sequence[str], opts: dict[str, Any],
            early: Mapping[str, Gathered] | None = None) -> tuple[Target, LogScan]:
    from .engine.api import pick_target

    return pick_target(logs, opts, early, stdin=sys.stdin.buffer if "-" in logs else None)


def _resolve(target: Target, opts: dict[str, Any], progress: Progress, scan: LogScan,
             ) -> tuple[Target, dict[str, Gathered]]:
    """An upstream logged by address, named from the cluster before the sources gather."""
    from .engine.api import resolve_upstream

    return resolve_upstream(target, opts, progress.source, scan)


def _key(incident: Incident) -> tuple[str, str, str]:
    return incident.signal, incident.service, incident.upstream


def _gather(target: Target, opts: dict[str, Any], progress: Progress) -> dict[str, Gathered]:
    from .engine.api import gather

    return gather(target, opts, progress.source)


def _write_bundle(out: str, target: Target, gathered: Mapping[str, Gathered], scan: LogScan) -> str:
    from .engine.api import write_bundle

    return write_bundle(out, target, gathered, scan)


def _runbook(name: str | None, signal: str) -> Runbook:
    from .engine.runbook import find, for_signal

    return find(name) if name else for_signal(signal)


def _progress_on(fmt: str, output: str | None) -> bool:
    return sys.stderr.isatty() and (fmt == "text" or output is not None)


def _emit(report: Report, fmt: str, output: str | None) -> None:
    from .render import report as render

    if fmt == "json":
        _write(render.to_json(report), output)
    elif fmt == "markdown":
        _write(render.to_markdown(report), output)
    else:
        _with_console(output, lambda console: render.to_text(report, console))


def _open_output(output: str) -> IO[str]:
    """The report file, opened; a path the checks at parse time let through (/proc/x) is still exit 2."""
    from .errors import InputError

    try:
        return open(output, "w", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write the report: {e.strerror}", path=output) from None


def _write(text: str, output: str | None) -> None:
    if output:
        with _open_output(output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def _with_console(output: str | None, draw: Callable[[Any], None]) -> None:
    from .render.console import make_console

    if output:
        with _open_output(output) as f:
            draw(make_console(file=f, no_color=True, width=120, soft_wrap=True))
    else:
        # Piped output keeps whole lines (for grep and less) rather than the 80 columns rich assumes.
        draw(make_console(soft_wrap=True, width=None if sys.stdout.isatty() else 160))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: the same way out as Ctrl-C (clean-up, one line), exit 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)      # a second SIGTERM must not cut the clean-up short
    raise _Terminated()


# The exit status of an interrupted run: main() leaves with os._exit once its own clean-up is done.
_LEAVING: list[int] = []


def _interrupted(e: BaseException | None) -> None:
    code, said = (143, "terminated (SIGTERM)") if isinstance(e, _Terminated) else (130, "interrupted")
    # From here a second Ctrl-C ends the process at once (private files removed all the same), and a
    # SIGTERM lets the clean-up finish: neither may raise into the clean-up or the interpreter's exit,
    # where it would print a traceback.
    try:
        signal.signal(signal.SIGINT, _on_second_interrupt)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:            # main() called outside the main thread: no handlers, no os._exit
        pass
    else:
        _LEAVING.append(code)
    _fail(said, code)


def _on_second_interrupt(signum: int, frame: object) -> None:
    _leave(_LEAVING[0] if _LEAVING else 130)


def _leave(code: int) -> NoReturn:
    """End an interrupted run now: private files removed, stdout and stderr flushed, then os._exit.

    Not sys.exit: the interpreter's exit joins every non-daemon thread a client library may have started,
    so a source stuck on a server would hold the process (and a second Ctrl-C during that wait prints a
    traceback from threading). Nothing else is owed at this point: main()'s own clean-up has run, the
    report was not written (interrupted), and the one exit hook that matters, private_tmp.remove_all,
    is called here."""
    from .engine.api import remove_private_files

    try:
        remove_private_files(final=True)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    from .errors import DiagnoseError

    debug = "--debug" in (argv or sys.argv[1:]) or bool(os.environ.get("DIAGNOSE_DEBUG"))
    # Without a handler SIGTERM ends the process on the spot: no finally, no atexit, and the kubernetes
    # client's copy of a kubeconfig's client key stays on disk. Only the main thread may set one.
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        previous = None
    try:
        # make_context + invoke is what click's own main() does, less its EPIPE handling (exit 1): a reader
        # that leaves (`| head -1`) reaches the BrokenPipeError branch below, exit 0.
        with cli.make_context("diagnose", list(sys.argv[1:] if argv is None else argv)) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort as e:
        _interrupted(e.__context__)
    except click.ClickException as e:
        # One line, as every other error (contract: exit 2 with a one-line error), and where help is.
        where: click.Context | None = getattr(e, "ctx", None)
        hint = f" (see '{where.command_path} --help')" if where is not None else ""
        _fail(e.format_message() + hint, e.exit_code)
    except DiagnoseError as e:
        if debug:
            _traceback(1)
        _fail(str(e), e.exit_code)
    except KeyboardInterrupt as e:
        _interrupted(e)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if debug:
            _traceback(1)
        _fail(f"internal error: {e.__class__.__name__}: {e} (run with --debug for the traceback)", 1)
    finally:
        from .engine.api import remove_private_files

        remove_private_files()    # files a source still running keeps on disk (a client key), on every exit
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if _LEAVING:
            _leave(_LEAVING[0])


def _quiet_broken_pipe() -> None:
    """`diagnose ... | head -1`: the reader left, which is not an error. Python would still try to flush
    stdout at exit, fail again and print "Exception ignored"; point stdout at /dev/null first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _fail(message: str, code: int, stream: IO[str] | None = None) -> None:
    from .redact import scrub_text
    from .render.escape import one_line

    # Messages quote their inputs (paths, URLs, server answers): secrets in them are redacted here too.
    print(f"diagnose: error: {one_line(scrub_text(message))}", file=stream or sys.stderr)
    sys.exit(code)


def _traceback(code: int) -> None:
    """--debug: the traceback of the exception being handled, as Python would print it, less its secrets
    (exception messages and the repr of arguments quote DSNs, tokens and paths)."""
    import traceback

    from .redact import scrub_text

    sys.stderr.write(scrub_text(traceback.format_exc()))
    sys.exit(code)
