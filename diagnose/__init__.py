"""diagnose: from an upstream-timeout log to ranked causes, with evidence and fix commands."""

__version__ = "0.1.0"
