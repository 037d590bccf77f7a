"""The PostgreSQL test server (a throwaway cluster, or DIAGNOSE_TEST_PG_DSN) for tests in this folder."""

from servers.postgres import pg_server  # noqa: F401  (a pytest fixture, found here by name)
