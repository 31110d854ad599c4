"""Every alias and tag name the platform writes or reads, in one place.

Model version tags keep MLOpsPython's names (`run_id`, `BuildId`, ...), so a
registry browsed by MLOpsPython's tools reads the same; run tags are MLflow's
own (`mlflow.*`) or ours (`mlops.*`).
"""

from __future__ import annotations

from typing import Final


class Alias:
    """Aliases of registered model versions."""

    CHAMPION: Final = "champion"  # the best model so far: Register moves it
    PRODUCTION: Final = "production"  # the model production serves: deployment moves it


class VersionTag:
    """Tags of a registered model version: its lineage, readable without the run."""

    RUN_ID: Final = "run_id"
    PIPELINE_RUN_ID: Final = "pipeline_run_id"
    EXPERIMENT: Final = "experiment"
    DATASET_NAME: Final = "dataset_name"
    DATASET_VERSION: Final = "dataset_version"
    DATASET_DIGEST: Final = "dataset_digest"
    GIT_COMMIT: Final = "git_commit"
    BUILD_ID: Final = "BuildId"
    BUILD_URI: Final = "BuildUri"
    # The ONNX twin made at registration: its path in the model folder when attached,
    # else `none: <why>`; and the largest difference from the model on the test split.
    ONNX_TWIN: Final = "onnx_twin"
    ONNX_MAX_ABS_DIFF: Final = "onnx_max_abs_diff"


class RunTag:
    """Tags of tracking runs: pipeline runs, step runs, training runs."""

    # MLflow's own: the UI shows them.
    PARENT_RUN_ID: Final = "mlflow.parentRunId"
    RUN_NAME: Final = "mlflow.runName"
    NOTE: Final = "mlflow.note.content"  # the run's description
    SOURCE_GIT_COMMIT: Final = "mlflow.source.git.commit"

    # A pipeline run.
    PIPELINE_ID: Final = "mlops.pipeline_id"
    PIPELINE_NAME: Final = "mlops.pipeline_name"
    PIPELINE_VERSION: Final = "mlops.pipeline_version"
    GIT_COMMIT: Final = "mlops.git_commit"  # also on training runs: the commit the model came from
    GIT_DIRTY: Final = "mlops.git_dirty"
    CALLER_RUN_ID: Final = "mlops.caller_run_id"
    BUILD_URI: Final = "mlops.build_uri"

    # Every run the orchestrator makes: whose process runs it (stale run reaping).
    STEP: Final = "mlops.step"
    HOST: Final = "mlops.host"
    PID: Final = "mlops.pid"
    PROCESS_START: Final = "mlops.process_start"
    FAILURE: Final = "mlops.failure"
    STEP_PID: Final = "mlops.step_pid"  # the process that ran the step's code

    # The Train model step.
    DATASET: Final = "mlops.dataset"
    DATASET_DIGEST: Final = "mlops.dataset_digest"
    CACHE_KEY: Final = "mlops.train_cache_key"
    MODEL_URI: Final = "mlops.model_uri"
    MODEL_RUN_ID: Final = "mlops.model_run_id"
    REUSED_FROM: Final = "mlops.reused_from"

    # The Evaluate and Register steps.
    EVALUATION: Final = "mlops.evaluation"
    EVALUATION_REASON: Final = "mlops.evaluation_reason"
    REGISTRATION: Final = "mlops.registration"
    REGISTERED_MODEL: Final = "mlops.registered_model"
    REGISTERED_VERSION: Final = "mlops.registered_version"

    # A monitoring run (drift check, live performance).
    MONITORING: Final = "mlops.monitoring"  # what the run checks: drift | performance
    MONITORING_VERDICT: Final = "mlops.monitoring.verdict"
    MONITORED_MODEL: Final = "mlops.monitoring.model"
    MONITORED_VERSION: Final = "mlops.monitoring.model_version"


class BatchTag:
    """Tags of a batch-scoring run (`mlops batch-score`): what it scored, with what, into where."""

    MODEL_URI: Final = "mlops.model_uri"
    MODEL_NAME: Final = "mlops.model_name"
    MODEL_VERSION: Final = "mlops.model_version"
    DATASET: Final = "mlops.dataset"
    INPUT: Final = "mlops.batch.input"
    INPUT_DIGEST: Final = "mlops.batch.input_digest"
    OUTPUT: Final = "mlops.batch.output"
    OUTPUT_DIGEST: Final = "mlops.batch.output_digest"
    REJECTS: Final = "mlops.batch.rejects"
