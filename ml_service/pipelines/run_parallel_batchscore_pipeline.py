"""MLOpsPython's command that finds the published batch scoring pipeline and runs it here.

    python -m ml_service.pipelines.run_parallel_batchscore_pipeline [--model_name NAME] \
        [--model_version V] [--dataset_version V] [--data_file_path FILE]

The pipeline is looked up by SCORING_PIPELINE_NAME and BUILD_BUILDID. Without
`--model_version` the model is the one the service would serve (@production,
else @champion); without `--data_file_path` it scores SCORING_DATASET_NAME.
"""

from __future__ import annotations

import argparse
import logging

from ml_service.pipelines.batch_scoring import find_published, run_published
from ml_service.pipelines.local_orchestrator import PipelineRunResult
from ml_service.pipelines.step import StepArgumentParser
from ml_service.settings import load_env

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = StepArgumentParser(
        prog="run_parallel_batchscore_pipeline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model_name", default=None, help="Default: MODEL_NAME.")
    parser.add_argument("--model_version", default=None, help="Default: @production/@champion.")
    parser.add_argument("--dataset_version", default=None, help="Default: latest.")
    parser.add_argument("--data_file_path", default=None, help="Score this file instead.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> PipelineRunResult:
    """Find the pipeline and run it with the given parameters."""
    args = parse_args(argv)
    env = load_env()
    published = find_published(env)
    log.info(
        "found pipeline %s version %s (id %s)",
        env.scoring_pipeline_name,
        env.build_buildid,
        published.id,
    )
    return run_published(
        env,
        published,
        {
            "model_name": args.model_name,
            "model_version": args.model_version,
            "dataset_version": args.dataset_version,
            "data_file_path": args.data_file_path,
        },
    )


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
