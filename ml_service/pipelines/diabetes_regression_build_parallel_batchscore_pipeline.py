"""MLOpsPython's command that builds and publishes the batch scoring pipeline (`batch_scoring`).

    python -m ml_service.pipelines.diabetes_regression_build_parallel_batchscore_pipeline \
        [--output_pipeline_id_file FILE]
"""

from __future__ import annotations

import argparse

from ml_service.pipelines.batch_scoring import build_and_publish
from ml_service.pipelines.published import PublishedPipeline
from ml_service.settings import load_env


def main(argv: list[str] | None = None) -> PublishedPipeline:
    """Build and publish; `--output_pipeline_id_file` receives the id."""
    parser = argparse.ArgumentParser(description="Build and publish the batch scoring pipeline.")
    parser.add_argument("--output_pipeline_id_file", default=None)
    args = parser.parse_args(argv)
    published = build_and_publish(load_env())
    if args.output_pipeline_id_file:
        with open(args.output_pipeline_id_file, "w", encoding="utf-8") as handle:
            handle.write(published.id)
    return published


if __name__ == "__main__":
    from ml_service.pipelines.step import run_step_cli

    run_step_cli(main)
