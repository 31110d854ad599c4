"""Team mode with a database password that is really checked: it shows nowhere.

The shared PostgreSQL of the other team tests trusts local connections, so a
password given to it is never used. This test starts its own PostgreSQL
cluster with scram-sha-256 authentication on a free port (stopped and removed
afterwards), gives the team server a role whose password is checked, runs
teammates through the server, and searches every output and the argument list
of every process of the server's group for the password.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from tests.conftest import free_port
from tests.team.team_support import DIABETES_CSV, Server, base_env, mlops

pytestmark = [pytest.mark.team, pytest.mark.slow]

ROLE = "teammate"
DATABASE = "team"


@dataclass(frozen=True)
class Cluster:
    """A private PostgreSQL cluster on 127.0.0.1:`port` and a role with a checked password."""

    port: int
    password: str

    def url(self, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{ROLE}:{secret}@127.0.0.1:{self.port}/{DATABASE}"


def _postgres_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "this test needs PostgreSQL's initdb and pg_ctl (/usr/lib/postgresql/<version>/bin): "
            "install the postgresql package"
        )
    return found[-1].parent


def _as_owner(owner: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a command as `owner` (PostgreSQL refuses to run as root)."""
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """initdb with scram-sha-256, start on a free port, create the role; stop and remove after."""
    binaries = _postgres_bin()
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, and there is no `postgres` user to run PostgreSQL as")
    base = Path(tempfile.mkdtemp(prefix="mlops-scram-"))
    data, sockets, pwfile = base / "data", base / "sockets", base / "superuser-password"
    superuser = secrets.token_hex(16)
    cluster = Cluster(port=free_port(), password=f"scram{secrets.token_hex(12)}")
    started = False
    try:
        sockets.mkdir()
        pwfile.write_text(superuser + "\n")
        if owner is not None:
            for path in (base, sockets, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        run = _as_owner(owner) | {"cwd": base, "capture_output": True, "text": True}
        made = subprocess.run(
            [
                str(binaries / "initdb"), "-D", str(data), "-U", "admin", "--auth=scram-sha-256",
                f"--pwfile={pwfile}", "--encoding=UTF8", "--no-sync",
            ],
            timeout=120, check=False, **run,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        options = f"-p {cluster.port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        up = subprocess.run(
            [
                str(binaries / "pg_ctl"), "-D", str(data), "-l", str(base / "postgres.log"),
                "-o", options, "-w", "-t", "60", "start",
            ],
            timeout=90, check=False, **run,
        )  # fmt: skip
        started = True
        assert up.returncode == 0, up.stdout + up.stderr + _read(base / "postgres.log")
        admin = f"postgresql://admin:{superuser}@127.0.0.1:{cluster.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
            connection.execute(
                psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    psycopg.sql.Identifier(ROLE), psycopg.sql.Literal(cluster.password)
                )
            )
            connection.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
        yield cluster
    finally:
        if started:
            stop = [str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(
                stop, timeout=60, check=False, capture_output=True, cwd=base, **_as_owner(owner)
            )
        shutil.rmtree(base, ignore_errors=True)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with private_cluster() as started:
        yield started


def _group_command_lines(leader: int) -> dict[int, str]:
    """The argument list of every process in `leader`'s process group or below it."""
    processes = {leader: psutil.Process(leader)}
    processes.update({p.pid: p for p in processes[leader].children(recursive=True)})
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == leader:
                processes[process.pid] = process
    lines = {}
    for pid, process in processes.items():
        with contextlib.suppress(psutil.NoSuchProcess):
            lines[pid] = "\0".join(process.cmdline())
    return lines


def test_a_checked_database_password_appears_in_no_output_and_no_command_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    # The password is really checked: a wrong one is refused, the right one accepted.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(cluster.url("wrong"), connect_timeout=10).close()
    psycopg.connect(cluster.url(), connect_timeout=10).close()

    server = Server(
        backend_uri=cluster.url(),
        artifacts=tmp_path / "artifacts",
        port=free_port(),
        log=tmp_path / "server.log",
        workdir=tmp_path / "server-ws",
    )
    outputs: dict[str, str] = {}

    def teammate(name: str, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        done = mlops(args, base_env(tmp_path / name, MLFLOW_TRACKING_URI=server.url, **env))
        outputs[f"{name} {' '.join(args)}"] = done.stdout + done.stderr
        return done

    server.start()
    try:
        # Alice gives the password the PostgreSQL way (the team record has none).
        run = teammate(
            "alice", ["run", "--data-file-path", str(DIABETES_CSV)], PGPASSWORD=cluster.password
        )
        assert run.returncode == 0, run.stderr
        assert "now @champion" in run.stdout
        # Bob names the registry himself, password in the URI.
        for args in (["data", "list"], ["model", "list"]):
            listed = teammate("bob", args, MLOPS_REGISTRY_URI=cluster.url())
            assert listed.returncode == 0, listed.stderr
        assert "diabetes_ds:1" in outputs["bob data list"]
        assert "@champion=v1" in outputs["bob model list"]
        # Carol has no password, Dave a wrong one in his URI: both refused in one line.
        refused = teammate("carol", ["data", "list"])
        assert refused.returncode == 1 and refused.stderr.startswith("error: "), refused.stderr
        wrong = f"wrong{secrets.token_hex(8)}"
        dave = teammate("dave", ["data", "list"], MLOPS_REGISTRY_URI=cluster.url(wrong))
        assert dave.returncode == 1, dave.stderr
        lines = dave.stderr.strip().splitlines()
        assert len(lines) == 1, dave.stderr
        assert lines[0].startswith(
            f"error: cannot reach the registry database {cluster.url('***')}: "
        )
        assert wrong not in dave.stdout + dave.stderr

        assert server.process is not None
        command_lines = _group_command_lines(server.process.pid)
    finally:
        server.stop()

    # `mlflow server` and the uvicorn process it starts: both are searched.
    assert len(command_lines) >= 2, command_lines
    assert any("mlflow" in line for line in command_lines.values()), command_lines
    leaking = sorted(pid for pid, line in command_lines.items() if cluster.password in line)
    assert not leaking, "the password is on the command line of these server processes"
    assert f"{ROLE}:***@127.0.0.1:{cluster.port}" in server.output()
    assert cluster.password not in server.output()
    leaked = [name for name, text in outputs.items() if cluster.password in text]
    assert not leaked, f"the password is in the output of: {leaked}"
