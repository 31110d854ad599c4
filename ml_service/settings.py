"""One typed settings object, read from the environment and `.env`.

Variable names are MLOpsPython's (EXPERIMENT_NAME, MODEL_NAME, ...), so an
existing `.env` keeps working; the workspace and tracking variables are ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ml_service.errors import SettingsError

# Azure ML's rules for compute names, and for endpoint names (which also end in a letter or digit).
AML_NAME = r"^[A-Za-z][A-Za-z0-9-]{1,31}$"
ENDPOINT_NAME = r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$"


class Env(BaseSettings):
    """Settings shared by the CLI, the pipeline and its steps.

    Field names are the environment variable names (matched case-insensitively).
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
    )

    # Where the embedded defaults live: tracking database, artifacts, datastore.
    mlops_workspace: Path = Field(default=Path(".mlops"), description="Workspace folder.")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking store; default: a SQLite file in the workspace.",
    )
    mlops_registry_uri: str | None = Field(
        default=None,
        description="Database of the dataset registry and published pipelines "
        "(SQLAlchemy URL); default: a SQLite file in the workspace.",
    )
    mlops_datastore_uri: str | None = Field(
        default=None,
        description="Datastore for registered data (fsspec URL or folder); "
        "default: `datastore/` in the workspace.",
    )

    # MLOpsPython's names.
    experiment_name: str = Field(
        default="mlopspython", min_length=1, description="MLflow experiment of pipeline runs."
    )
    model_name: str = Field(
        default="diabetes_regression_model", min_length=1, description="Registered model name."
    )
    dataset_name: str = Field(
        default="diabetes_ds", min_length=1, description="Dataset the pipeline trains on."
    )
    dataset_version: str = Field(
        default="latest", description="Dataset version to train on: a number or `latest`."
    )
    training_pipeline_name: str = Field(
        default="diabetes-Training-Pipeline",
        min_length=1,
        description="Name the training pipeline is published under.",
    )
    sources_dir_train: str = Field(
        default="diabetes_regression", description="Package of the model's steps."
    )
    train_script_path: str = Field(
        default="training/train_aml.py", description="Train model step, in SOURCES_DIR_TRAIN."
    )
    evaluate_script_path: str = Field(
        default="evaluate/evaluate_model.py", description="Evaluate step, in SOURCES_DIR_TRAIN."
    )
    register_script_path: str = Field(
        default="register/register_model.py", description="Register step, in SOURCES_DIR_TRAIN."
    )
    run_evaluation: bool = Field(
        default=True, description="Include the Evaluate step in the pipeline."
    )
    allow_run_cancel: bool = Field(
        default=True,
        description="Let Evaluate cancel the pipeline run when the model is not better.",
    )
    build_buildid: str = Field(
        default="local", min_length=1, description="CI build id; the published pipeline version."
    )
    build_uri: str | None = Field(default=None, description="Link to the CI build.")

    # Batch scoring pipeline (MLOpsPython's names).
    scoring_pipeline_name: str = Field(
        default="diabetes-Scoring-Pipeline",
        min_length=1,
        description="Name the batch scoring pipeline is published under.",
    )
    scoring_dataset_name: str = Field(
        default="diabetes_scoring_ds",
        min_length=1,
        description="Dataset the batch pipeline scores.",
    )
    batchscore_script_path: str = Field(
        default="scoring/parallel_batchscore.py",
        description="Batch scoring step (`init()`/`run(mini_batch)`), in SOURCES_DIR_TRAIN.",
    )

    # Scoring service (`mlops serve`).
    scoring_key: SecretStr | None = Field(
        default=None,
        description="Key every scoring call must send as `Authorization: Bearer <key>`; "
        "setting it (or SCORING_KEY_FILE) turns key auth on.",
    )
    scoring_key_file: Path | None = Field(
        default=None, description="File holding the scoring key (first line), e.g. a secret mount."
    )
    scoring_max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body accepted (413 above)."
    )
    scoring_max_rows: int = Field(
        default=10_000, gt=0, description="Most rows one scoring request may carry."
    )
    scoring_collect_data: bool = Field(
        default=True,
        description="Append each scored request's inputs and predictions to the datastore.",
    )
    applicationinsights_connection_string: SecretStr | None = Field(
        default=None,
        description="Send the service's traces and logs to Azure Monitor (Application Insights).",
    )

    # Retraining on new data (`mlops retrain --if-new-data`, `mlops watch`).
    retrain_dataset_policy: Literal["append", "replace"] = Field(
        default="append",
        description="What a file landed in the datastore's `landing/` becomes: `append` "
        "(the latest DATASET_NAME version's rows plus the file's) or `replace` (the file alone).",
    )
    retrain_max_attempts: int = Field(
        default=3,
        ge=1,
        description="Times a landed file's training pipeline may fail before its job is set "
        "aside in `retrain/failed/` (so that one file that always fails cannot block the "
        "files landed after it).",
    )

    # Azure ML, used only by the Azure path (`mlops pipeline|endpoint ... --target azureml`).
    # Names and defaults are MLOpsPython's where it has them.
    workspace_name: str | None = Field(default=None, description="Azure ML workspace.")
    resource_group: str | None = Field(
        default=None, description="Azure resource group of the workspace."
    )
    subscription_id: str | None = Field(default=None, description="Azure subscription id.")
    aml_compute_cluster_name: str = Field(
        default="train-cluster",
        pattern=AML_NAME,
        description="Azure ML compute cluster the pipeline runs on (created if missing).",
    )
    aml_compute_cluster_cpu_sku: str = Field(
        default="STANDARD_DS2_V2", min_length=1, description="VM size of the compute cluster."
    )
    aml_cluster_min_nodes: int = Field(
        default=0, ge=0, description="Nodes the cluster keeps when idle (0: no cost when idle)."
    )
    aml_cluster_max_nodes: int = Field(default=4, gt=0, description="Most nodes of the cluster.")
    aml_cluster_priority: Literal["lowpriority", "dedicated"] = Field(
        default="lowpriority",
        description="`lowpriority` (cheaper, may be preempted) or `dedicated` cluster nodes.",
    )
    aml_env_name: str = Field(
        default="diabetes_regression_training_env",
        min_length=1,
        description="Azure ML environment of the steps and the scoring script.",
    )
    aml_env_train_conda_dep_file: str = Field(
        default="conda_dependencies.yml",
        min_length=1,
        description="Conda file of that environment, in SOURCES_DIR_TRAIN.",
    )
    aml_env_base_image: str = Field(
        default="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        min_length=1,
        description="Docker base image the Azure ML environment is built on.",
    )
    score_script: str = Field(
        default="scoring/score.py",
        min_length=1,
        description="Scoring script (`init()`/`run()`) for Azure ML's scoring-script hosting, "
        "in SOURCES_DIR_TRAIN; the compiled online deployment runs the service's container.",
    )
    aml_online_endpoint_name: str = Field(
        default="diabetes-online",
        pattern=ENDPOINT_NAME,
        description="Managed online endpoint (unique in the Azure region).",
    )
    aml_online_instance_type: str = Field(
        default="Standard_DS3_v2", min_length=1, description="VM size of the online deployment."
    )
    aml_online_instance_count: int = Field(
        default=1, gt=0, description="Instances of the online deployment."
    )
    aml_batch_endpoint_name: str = Field(
        default="diabetes-batch",
        pattern=ENDPOINT_NAME,
        description="Batch endpoint (unique in the Azure region).",
    )
    aml_batch_mini_batch_size: str = Field(
        default="5",
        pattern=r"^\d+(\s*[kKmMgG]?[bB])?$",
        description="Files per mini-batch of the Azure ML parallel job (e.g. `5`), or bytes "
        "per mini-batch of tabular input (e.g. `10MB`).",
    )
    aml_batch_error_threshold: int = Field(
        default=10,
        ge=-1,
        description="Rows the Azure ML parallel job may fail to score before it fails; "
        "`-1` tolerates any number.",
    )

    @property
    def workspace(self) -> Path:
        """The workspace folder as an absolute path."""
        return self.mlops_workspace.expanduser().resolve()

    @property
    def tracking_uri(self) -> str:
        """The tracking store and model registry: MLFLOW_TRACKING_URI, else a SQLite file
        in the workspace."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.workspace / 'mlflow.db'}"

    def step_module(self, script_path: str) -> str:
        """The importable module of a step script, e.g. `diabetes_regression.training.train_aml`."""
        relative = Path(self.sources_dir_train) / script_path
        return ".".join(relative.with_suffix("").parts)


def load_env(**overrides: object) -> Env:
    """Read the settings, turning a bad value into one SettingsError naming the variable."""
    try:
        return Env(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            + (f" (got {e['input']!r})" if e["type"] != "extra_forbidden" else "")
            for e in err.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from err
