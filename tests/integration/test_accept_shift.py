"""`mlops data register --accept-shift --reason`: a refused shift, accepted on the record."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_service.cli import cli
from ml_service.data.datasets import DatasetRegistry
from ml_service.settings import load_env
from tests.conftest import BAD_EXAMPLES, DIABETES_CSV

SHIFTED = BAD_EXAMPLES / "shifted_distribution.csv"


def mlops(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


@pytest.mark.usefixtures("workspace")
def test_a_shift_is_refused_then_accepted_with_its_reason_kept() -> None:
    assert mlops("data", "register", "--name", "ds", "--path", str(DIABETES_CSV)).exit_code == 0
    refused = mlops("data", "register", "--name", "ds", "--path", str(SHIFTED))
    assert refused.exit_code == 1
    assert "mean moved by" in refused.output
    assert "--accept-shift --reason TEXT" in refused.output

    accepted = mlops(
        "data", "register", "--name", "ds", "--path", str(SHIFTED),
        "--accept-shift", "--reason", "new clinic population, ticket 42",
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "registered ds:2" in accepted.output
    assert "accepted a distribution shift from ds:1 (new clinic population" in accepted.output

    version = DatasetRegistry.from_env(load_env()).get("ds", 2)
    assert version.accepted_shift is not None
    assert version.accepted_shift.reason == "new clinic population, ticket 42"
    assert version.accepted_shift.reference == "ds:1"
    assert any("'BMI'" in problem for problem in version.accepted_shift.problems)
    assert "@" in version.accepted_shift.accepted_by
    assert DatasetRegistry.from_env(load_env()).get("ds", 1).accepted_shift is None

    shown = mlops("data", "show", "ds:2")
    assert "accepted shift from ds:1" in shown.output
    assert "ticket 42" in shown.output


@pytest.mark.usefixtures("workspace")
def test_accept_shift_needs_a_reason_and_never_skips_the_schema() -> None:
    mlops("data", "register", "--name", "ds", "--path", str(DIABETES_CSV))
    no_reason = mlops("data", "register", "--name", "ds", "--path", str(SHIFTED), "--accept-shift")
    assert no_reason.exit_code == 2
    assert "--accept-shift needs --reason" in no_reason.output
    blank = mlops(
        "data", "register", "--name", "ds", "--path", str(SHIFTED),
        "--accept-shift", "--reason", "  ",
    )  # fmt: skip
    assert blank.exit_code == 2
    bad_schema = mlops(
        "data", "register", "--name", "ds", "--path", str(BAD_EXAMPLES / "extra_column.csv"),
        "--accept-shift", "--reason", "anything",
    )  # fmt: skip
    assert bad_schema.exit_code == 1
    assert "unexpected column" in bad_schema.output
    assert [v.version for v in DatasetRegistry.from_env(load_env()).list_versions("ds")] == [1]


@pytest.mark.usefixtures("workspace")
def test_accepting_when_nothing_shifted_records_nothing(tmp_path: Path) -> None:
    import pandas as pd

    mlops("data", "register", "--name", "ds", "--path", str(DIABETES_CSV))
    same = tmp_path / "same.csv"
    pd.read_csv(DIABETES_CSV).iloc[:-5].to_csv(same, index=False)
    result = mlops(
        "data", "register", "--name", "ds", "--path", str(same),
        "--accept-shift", "--reason", "just in case",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no distribution shift to accept" in result.output
    assert DatasetRegistry.from_env(load_env()).get("ds", 2).accepted_shift is None


def test_a_registry_at_the_previous_migration_gains_the_column_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, inspect, text

    from ml_service.registry.database import MIGRATIONS, engine_for

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    old = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "insert into mlops_dataset_versions (name, version, digest, uri, source, rows, "
                "schema_json, stats_json, created_at) values "
                "('ds', 1, 'abc', 'file:///x.csv', 'x.csv', 3, '{}', '{}', '2026-01-01')"
            )
        )
    old.dispose()
    engine = engine_for(url)
    columns = {c["name"] for c in inspect(engine).get_columns("mlops_dataset_versions")}
    assert "accepted_shift_json" in columns
    version = DatasetRegistry(engine, str(tmp_path / "datastore")).get("ds", 1)
    assert (version.rows, version.accepted_shift) == (3, None)
    engine.dispose()
    engine_for.cache_clear()
