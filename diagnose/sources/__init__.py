"""Evidence sources. The only package that imports kubernetes, prometheus-api-client or psycopg.

Each built-in source is a module `diagnose/sources/<name>.py` with the live half of the `Source`
interface (diagnose/sources/base.py):

    NAME: str                                        # "kubernetes", "prometheus", "postgres", ...
    OPTIONS: tuple[Option, ...]                      # its command-line options, as data (the CLI builds them)
    IMPORTS: tuple[str, ...]                         # optional: client libraries the engine imports up front,
                                                     # in one thread, before the sources start at once
    def skip_reason(opts: SourceOptions) -> str | None
        # None when the source was given; otherwise one line saying why it is skipped ("no --pg-dsn given")
    def collect(opts: SourceOptions, target: Target, deadline: float) -> RawFiles
        # read-only live collection; returns the source's files in their native wire format, exactly what
        # a bundle stores under <bundle>/<NAME>/; raises diagnose.errors.SourceError with one line.
        # `deadline` is a time.monotonic() value: every call made must end by then.

and its parser `diagnose/parsers/<name>.py` with:

    def load(files: RawFiles, target: Target) -> <typed evidence>   # raises EvidenceError

so that a live run and `diagnose analyze` share every line of parsing. The engine's registry
(diagnose/engine/registry.py, `BUILT_IN_SOURCES`) pairs the two into one `SourceDef`.
"""
