"""One `mlops run` in this process: wall time, CPU time of this process and of its reaped
children (the side process), and which heavy libraries the pipeline process imported.

    MLOPS_WORKSPACE=DIR python benchmarks/pipeline_cpu.py DATA_CSV

CPU time moves less with other jobs' load than wall time does; run it alternately
with two venvs (before/after) on the same warm workspaces to compare.
"""

from __future__ import annotations

import resource
import sys
import time

HEAVY = ("sklearn", "skops", "skl2onnx", "matplotlib")


def main() -> None:
    started = time.perf_counter()
    from ml_service.cli import main as mlops

    try:
        mlops(["run", "--data-file-path", sys.argv[1]])
    except SystemExit as exit_:
        if exit_.code:
            raise
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    heavy = sorted(name for name in HEAVY if name in sys.modules)
    print(
        f"wall={time.perf_counter() - started:.2f} "
        f"cpu_self={own.ru_utime + own.ru_stime:.2f} "
        f"cpu_children={children.ru_utime + children.ru_stime:.2f} imported={heavy}"
    )


if __name__ == "__main__":
    main()
