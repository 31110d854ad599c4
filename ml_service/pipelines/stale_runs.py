"""Runs whose process died: find them by the host and pid they carry, and mark them FAILED.

A pipeline process killed with SIGKILL cannot end its own runs, so they would
stay RUNNING for ever. Every run the orchestrator creates is tagged with its
host, pid and the pid's start time (pids are reused); the next pipeline run on
the same host ends the ones whose process is gone. Runs from other hosts are
left alone: from here their processes cannot be seen.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable

import psutil
from mlflow.entities import Run, RunStatus
from mlflow.tracking import MlflowClient

from ml_service.registry.tags import RunTag

log = logging.getLogger(__name__)

_RUNNING = RunStatus.to_string(RunStatus.RUNNING)
_PAGE = 1000


def process_start(pid: int) -> str:
    """When process `pid` started (seconds since the epoch, as text); '' when it is gone."""
    try:
        return repr(psutil.Process(pid).create_time())
    except psutil.Error:
        return ""


def process_tags() -> dict[str, str]:
    """The tags that let a later run tell whether this process is still alive."""
    pid = os.getpid()
    return {
        RunTag.HOST: socket.gethostname(),
        RunTag.PID: str(pid),
        RunTag.PROCESS_START: process_start(pid),
    }


def process_alive(pid: int, started: str) -> bool:
    """Whether `pid` is a live process that started at `started` (not a reused pid)."""
    if not psutil.pid_exists(pid):
        return False
    return not started or process_start(pid) in ("", started)


def dead_runs(
    runs: Iterable[Run], host: str, alive: Callable[[int, str], bool] = process_alive
) -> list[Run]:
    """The RUNNING runs of `host` whose recorded process is not alive (pure but for `alive`)."""
    found = []
    for run in runs:
        tags = run.data.tags
        if run.info.status != _RUNNING or tags.get(RunTag.HOST) != host:
            continue
        pid = tags.get(RunTag.PID, "")
        if pid.isdigit() and not alive(int(pid), tags.get(RunTag.PROCESS_START, "")):
            found.append(run)
    return found


def fail_dead_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs of this host whose process died; returns their ids."""
    host = socket.gethostname()
    running: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = '{_RUNNING}' and tags.`{RunTag.HOST}` = '{host}'",
            max_results=_PAGE,
            page_token=token,
        )
        running.extend(page)
        token = page.token
        if not token:
            break
    failed = []
    for run in dead_runs(running, host):
        pid = run.data.tags.get(RunTag.PID)
        client.set_tag(
            run.info.run_id, RunTag.FAILURE, f"process {pid} on {host} died while running"
        )
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        failed.append(run.info.run_id)
    if failed:
        log.info("marked %d run(s) of dead processes as FAILED: %s", len(failed), ", ".join(failed))
    return failed
