"""Run a published pipeline on this machine: the same step commands Azure ML would run.

One MLflow parent run per pipeline run, one child run per step. Steps run
in-process by default (MLflow and scikit-learn are imported once per pipeline,
not once per step, models are handed on in memory, and side work such as the
ONNX conversion may run in a second process), or each in its own `python -m`
process when isolation is asked for. A step that cancels the parent run
(Evaluate) ends the pipeline as cancelled; a step that fails ends it as failed
and removes its work folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Param, RunStatus
from mlflow.tracking import MlflowClient

from ml_service.errors import MlopsError, StepFailedError
from ml_service.pipelines import handoff, side_process
from ml_service.pipelines.definition import resolve_arguments
from ml_service.pipelines.published import PublishedPipeline
from ml_service.pipelines.stale_runs import fail_dead_runs, process_tags
from ml_service.project.package import model_package
from ml_service.registry.tags import RunTag
from ml_service.settings import Env
from ml_service.startup import import_once
from ml_service.tracking.code_version import code_version
from ml_service.tracking.store import (
    Tracking,
    is_unreachable,
    tracking_call,
    unreachable_error,
)

log = logging.getLogger(__name__)

COMPLETED, CANCELLED, FAILED = "completed", "cancelled", "failed"
_KILLED, _FAILED, _FINISHED, _RUNNING = (
    RunStatus.to_string(status)
    for status in (RunStatus.KILLED, RunStatus.FAILED, RunStatus.FINISHED, RunStatus.RUNNING)
)


@dataclass
class PipelineRunResult:
    """What a pipeline run did."""

    run_id: str
    pipeline_id: str
    status: str
    step_outputs: dict[str, dict[str, Path]] = field(default_factory=dict)
    steps_run: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_pipeline(
    published: PublishedPipeline,
    parameters: dict[str, str],
    env: Env,
    tracking: Tracking,
    isolate_steps: bool = False,
    description: str | None = None,
) -> PipelineRunResult:
    """Run every step in order under one parent run.

    `description` (what the run tries and why) becomes the parent run's MLflow
    note, shown in the UI. Before it starts, runs left RUNNING by dead pipeline
    processes on this host are marked FAILED. Every run carries this process's
    host and pid.

    Raises:
        StepFailedError: a step failed; the parent run is FAILED and its work folder removed.
        TrackingUnavailableError: the tracking server did not answer within the retry bound.
    """
    spec = published.spec
    client = tracking.client
    package = model_package(env)
    code = code_version(package.directory)
    liveness = process_tags()
    tracking_call(tracking.tracking_uri, fail_dead_runs, client, tracking.experiment_id)
    tags = {
        RunTag.RUN_NAME: f"{spec.name} {spec.version}",
        RunTag.PIPELINE_ID: published.id,
        RunTag.PIPELINE_NAME: spec.name,
        RunTag.PIPELINE_VERSION: spec.version,
        RunTag.GIT_COMMIT: code.commit,
        RunTag.GIT_DIRTY: str(code.dirty).lower(),
        RunTag.CALLER_RUN_ID: parameters.get("caller_run_id", ""),
        RunTag.SOURCE_GIT_COMMIT: code.commit,
        **liveness,
    }
    if env.build_uri:
        tags[RunTag.BUILD_URI] = env.build_uri
    if description:
        tags[RunTag.NOTE] = description
    parent = tracking_call(
        tracking.tracking_uri, lambda: client.create_run(tracking.experiment_id, tags=tags)
    )
    run_id = parent.info.run_id
    # One write for all of them, not one per parameter.
    client.log_batch(run_id, params=[Param(name, value) for name, value in parameters.items()])
    work = env.workspace / "pipeline_runs" / run_id
    result = PipelineRunResult(run_id=run_id, pipeline_id=published.id, status=COMPLETED)
    started = time.perf_counter()
    log.info("pipeline run %s of %s %s", run_id, spec.name, spec.version)
    if not isolate_steps:
        # In-process steps may hand side work to a second process (see side_process).
        side_process.enable()

    try:
        for number, step in enumerate(spec.steps, start=1):
            folders = {name: work / step.id / name for name in step.outputs}
            result.step_outputs[step.id] = folders
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            argv = resolve_arguments(
                step,
                parameters,
                {
                    sid: {n: str(p) for n, p in outs.items()}
                    for sid, outs in result.step_outputs.items()
                },
            )
            child = client.create_run(
                tracking.experiment_id,
                tags={
                    RunTag.PARENT_RUN_ID: run_id,
                    RunTag.STEP: step.id,
                    RunTag.RUN_NAME: step.display_name,
                    RunTag.SOURCE_GIT_COMMIT: code.commit,
                    **liveness,
                },
            )
            argv += ["--run_id", child.info.run_id]
            log.info("[%d/%d] %s", number, len(spec.steps), step.display_name)
            step_started = time.perf_counter()
            try:
                _run_step(step.module, argv, env, isolate_steps, package.directory.parent)
            except BaseException as err:
                if is_unreachable(err):
                    # Ending the runs would only wait through the retries again; the
                    # next pipeline run marks them FAILED (this process will be gone).
                    message = str(unreachable_error(tracking.tracking_uri))
                else:
                    _end_if_running(client, child.info.run_id, _FAILED)
                    message = (
                        str(err) if isinstance(err, MlopsError) else f"{type(err).__name__}: {err}"
                    )
                raise StepFailedError(f"step {step.display_name!r} failed: {message}") from err
            _end_if_running(client, child.info.run_id, _FINISHED)
            result.steps_run.append(step.id)
            log.info("      done in %.1f s", time.perf_counter() - step_started)
            if client.get_run(run_id).info.status == _KILLED:
                result.status = CANCELLED
                skipped = [s.display_name for s in spec.steps[number:]]
                if skipped:
                    log.info("      pipeline run cancelled; skipped: %s", ", ".join(skipped))
                break
    except BaseException as err:
        result.status = FAILED
        shutil.rmtree(work, ignore_errors=True)
        if is_unreachable(err):
            if isinstance(err, MlopsError):
                raise
            raise unreachable_error(tracking.tracking_uri) from err
        _end_if_running(client, run_id, _FAILED)
        raise
    finally:
        side_process.stop()
        handoff.clear()
        result.seconds = time.perf_counter() - started
    if result.status == COMPLETED:
        tracking_call(
            tracking.tracking_uri,
            client.set_terminated,
            run_id,
            _FINISHED,
        )
    return result


def _run_step(module: str, argv: list[str], env: Env, isolate: bool, source_root: Path) -> None:
    """Run a step's `main(argv)` here, or `python -m module argv` in a process of its own.

    `source_root` is the folder holding the model package, so the child imports it too.
    """
    if not isolate:
        import_once(module).main(argv)
        return
    child_env = dict(os.environ)
    child_env["MLFLOW_TRACKING_URI"] = env.tracking_uri
    child_env["MLOPS_WORKSPACE"] = str(env.workspace)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(source_root), child_env.get("PYTHONPATH", "")) if p
    )
    completed = subprocess.run(
        [sys.executable, "-m", module, *argv],
        env=child_env,
        stdout=None,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.stderr:
        sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit code {completed.returncode}"
        raise StepFailedError(last.removeprefix("error: "))


def _end_if_running(client: MlflowClient, run_id: str, status: str) -> None:
    if client.get_run(run_id).info.status == _RUNNING:
        client.set_terminated(run_id, status)
