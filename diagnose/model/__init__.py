"""Plain, frozen records: incident, evidence, findings, report. No I/O in this package."""
