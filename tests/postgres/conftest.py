"""The PostgreSQL test server (a throwaway cluster, or DIAGNOSE_TEST_PG_DSN) for tests in this folder."""

from servers.postgres import pg_scene, pg_server  # noqa: F401  (pytest fixtures, found here by name)
