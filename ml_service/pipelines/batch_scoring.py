"""The batch scoring pipeline (Batch score → Copy output) as the settings describe it; publish, run.

MLOpsPython's ParallelRunStep scores a dataset on a cluster, then a step copies
the scores to a dated place in the datastore. Here the scoring step is the model
package's `parallel_batchscore.py` (BATCHSCORE_SCRIPT_PATH), run on every core of
this machine by the local orchestrator; the copy step writes
`<datastore>/scores/<model>/<version>/<date>/`. Published under
SCORING_PIPELINE_NAME, version BUILD_BUILDID.
"""

from __future__ import annotations

from ml_service.batch import EXPERIMENT
from ml_service.pipelines.definition import NO_VALUE, PipelineSpec, StepSpec, with_parameters
from ml_service.pipelines.local_orchestrator import PipelineRunResult, run_pipeline
from ml_service.pipelines.published import PublishedPipeline, find, publish_logged
from ml_service.registry.database import registry_engine
from ml_service.settings import Env
from ml_service.tracking.store import configure_tracking

SCORE, COPY = "score", "copy_output"
COPY_MODULE = "ml_service.pipelines.copy_scores"


def build_pipeline(env: Env) -> PipelineSpec:
    """The batch scoring pipeline as the settings describe it."""
    steps = [
        StepSpec(
            id=SCORE,
            display_name="Batch score",
            module=env.step_module(env.batchscore_script_path),
            arguments=[
                "--model_name", "${{parameters.model_name}}",
                "--model_version", "${{parameters.model_version}}",
                "--dataset_name", env.scoring_dataset_name,
                "--dataset_version", "${{parameters.dataset_version}}",
                "--data_file_path", "${{parameters.data_file_path}}",
                "--step_output", "${{outputs.step_output}}",
            ],
            outputs=["step_output"],
        ),
        StepSpec(
            id=COPY,
            display_name="Copy output",
            module=COPY_MODULE,
            arguments=[
                "--model_name", "${{parameters.model_name}}",
                "--step_input", f"${{{{steps.{SCORE}.outputs.step_output}}}}",
                "--step_output", "${{outputs.step_output}}",
            ],
            outputs=["step_output"],
        ),
    ]  # fmt: skip
    return PipelineSpec(
        name=env.scoring_pipeline_name,
        version=env.build_buildid,
        description="Batch scoring pipeline",
        parameters={
            "model_name": env.model_name,
            "model_version": NO_VALUE,
            "dataset_version": "latest",
            "data_file_path": NO_VALUE,
        },
        steps=steps,
    )


def build_and_publish(env: Env) -> PublishedPipeline:
    """Build the pipeline and publish it to the registry database."""
    return publish_logged(registry_engine(env), build_pipeline(env))


def find_published(env: Env) -> PublishedPipeline:
    """The pipeline published under SCORING_PIPELINE_NAME and BUILD_BUILDID."""
    return find(registry_engine(env), env.scoring_pipeline_name, env.build_buildid)


def run_published(
    env: Env, published: PublishedPipeline, parameters: dict[str, str | None]
) -> PipelineRunResult:
    """Run the published pipeline here; its runs go to the batch-scoring experiment."""
    tracking = configure_tracking(env.model_copy(update={"experiment_name": EXPERIMENT}))
    values = with_parameters(published.spec, parameters)
    return run_pipeline(published, values, env, tracking)
