"""The output appears whole or not at all: a job killed mid-run leaves nothing under its name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.serving.diabetes_model import FEATURES

MLOPS = Path(sys.executable).parent / "mlops"
ROWS = 60_000


@pytest.fixture
def large_csv(tmp_path: Path) -> Path:
    """Rows enough that scoring them one at a time takes a while."""
    rng = np.random.default_rng(3)
    columns = {name: np.round(rng.normal(0, 0.05, ROWS), 5) for name in FEATURES}
    path = tmp_path / "large.csv"
    pacsv.write_csv(pa.table(columns), path)
    return path


def start_job(batch_env, source: Path, output: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["MLOPS_WORKSPACE"] = str(batch_env.workspace)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.Popen(
        [str(MLOPS), "batch-score", "--input", str(source), "--output", str(output),
         "--workers", "1", "--chunk-rows", "1", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_partial_output(job: subprocess.Popen[str], folder: Path, name: str) -> Path:
    """The job's temporary output, once rows are being written into it."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert job.poll() is None, job.communicate()
        partial = [p for p in folder.glob(f".{name}.*") if p.stat().st_size > 0]
        if partial:
            return partial[0]
        time.sleep(0.05)
    job.kill()
    pytest.fail("the job wrote no rows in time")


@pytest.mark.slow
def test_a_job_killed_mid_run_leaves_no_file_under_the_final_name(batch_env, large_csv, tmp_path):
    output = tmp_path / "out" / "scores.csv"
    job = start_job(batch_env, large_csv, output)
    wait_for_partial_output(job, output.parent, output.name)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=60)
    assert job.returncode == -signal.SIGKILL
    assert not output.exists()
    assert not (output.parent / "scores.rejects.csv").exists()


@pytest.mark.slow
def test_a_job_stopped_by_sigterm_removes_its_temporary_files(batch_env, large_csv, tmp_path):
    output = tmp_path / "out" / "scores.parquet"
    job = start_job(batch_env, large_csv, output)
    wait_for_partial_output(job, output.parent, output.name)
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=120)
    assert job.returncode == 128 + signal.SIGTERM
    assert list(output.parent.iterdir()) == []
