"""Team-mode fixtures (defined in team_support.py, which the tests also import helpers from)."""

from tests.team.team_support import mlflow_server, pg_database, pg_template, server_database

__all__ = ["mlflow_server", "pg_database", "pg_template", "server_database"]
