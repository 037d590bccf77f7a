"""The built-in checks, one module per kind of evidence they read. The engine's registry imports these
modules and collects every function marked with `@check` (diagnose.model.check)."""

MODULES = (
    "diagnose.checks.logs",
    "diagnose.checks.log_signals",
    "diagnose.checks.kubernetes",
    "diagnose.checks.podhealth",
    "diagnose.checks.mesh",
    "diagnose.checks.metrics",
    "diagnose.checks.database",
    "diagnose.checks.threads",
)
