"""Records a batch-scoring job in MLflow from a child process that starts with the job.

Importing MLflow and opening its tracking store takes seconds, more than scoring
a million rows. A thread cannot hide that (the imports hold the GIL), so the
job starts this module as a child process first thing: while the parent checks
its inputs and scores, the child imports MLflow, opens the store and makes sure
the `batch-scoring` experiment exists. Then it waits for the job's result on
stdin and logs the run.

The conversation is one JSON object a line:

    child  -> parent  {"open": true}              store opened (or {"error": "..."})
    parent -> child   {"result": {...}, "request": {...}, "threshold": "1%", "started": ms}
    child  -> parent  {"run_id": "..."}           run logged (or {"error": "..."})

The parent waits for `open` before publishing its output, so a store that
cannot be opened fails the job with no output written. A parent that stops
without sending a result (a bad input, Ctrl-C, SIGKILL) closes the pipe and the
child exits without logging anything.

`start_recorder` needs no child when the run can be written straight into the
embedded SQLite store (`sqlite_run`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from typing import IO, TYPE_CHECKING, Any, Protocol

from ml_service.errors import MlopsError, TrackingUnavailableError

if TYPE_CHECKING:
    from ml_service.batch.result import BatchRequest, BatchResult
    from ml_service.settings import Env

_EOF: dict[str, Any] = {}
"""What the reader queues when the child's stdout closes."""


class Recorder(Protocol):
    """Records a job as a run of the `batch-scoring` experiment."""

    def check(self) -> None:
        """Raise now if the job already cannot be recorded (without waiting)."""

    def wait_open(self) -> None:
        """Wait until the job can be recorded; raise TrackingUnavailableError if it cannot."""

    def record(
        self, result: BatchResult, request: BatchRequest, threshold: str, started_ms: int
    ) -> str:
        """Log the finished job; the run's id."""

    def close(self) -> None:
        """Release what the recorder holds (safe to call twice)."""


def start_recorder(env: Env) -> Recorder:
    """Straight into the embedded SQLite store when it allows, else MLflow in a child process."""
    from ml_service.batch.sqlite_run import SqliteRecorder

    return SqliteRecorder.open(env) or RunRecorder()


class RunRecorder:
    """The parent's side: the child started now, its answers read on a thread."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._process = subprocess.Popen(
            [sys.executable, "-m", "ml_service.batch.recorder"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._open = False
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), name="batch-record", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                answer = json.loads(line)
            except ValueError:
                continue  # not ours (a library printing to stdout): the protocol lines are JSON
            if isinstance(answer, dict):
                self._answers.put(answer)
        self._answers.put(_EOF)

    def _answer(self, block: bool) -> dict[str, Any] | None:
        try:
            return self._answers.get(block=block)
        except queue.Empty:
            return None

    def _failure(self, answer: dict[str, Any], doing: str) -> TrackingUnavailableError:
        if answer is _EOF:
            self._process.wait()
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            reason = lines[-1] if lines else f"it exited with code {self._process.returncode}"
            return TrackingUnavailableError(f"{doing}: the recording process stopped: {reason}")
        return TrackingUnavailableError(f"{doing}: {answer.get('error', answer)}")

    def check(self) -> None:
        """Raise now if the child has already reported that the store cannot be opened."""
        if self._open:
            return
        answer = self._answer(block=False)
        if answer is not None:
            self._opened(answer)

    def wait_open(self) -> None:
        """Wait until the store is open and the experiment exists.

        Raises:
            TrackingUnavailableError: the store cannot be opened, or the child died.
        """
        if not self._open:
            answer = self._answer(block=True)
            assert answer is not None
            self._opened(answer)

    def _opened(self, answer: dict[str, Any]) -> None:
        if answer.get("open") is not True:
            raise self._failure(answer, "cannot record the job in the tracking store")
        self._open = True

    def record(
        self, result: BatchResult, request: BatchRequest, threshold: str, started_ms: int
    ) -> str:
        """Log the job as a finished run; its id.

        Raises:
            TrackingUnavailableError: the run could not be logged.
        """
        self.wait_open()
        doing = f"the scores are in {result.output} but the run could not be recorded"
        message = {
            "result": dataclasses.asdict(result),
            "request": dataclasses.asdict(request),
            "threshold": threshold,
            "started": started_ms,
        }
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.close()
        except OSError:  # the child is gone: its stderr says why
            pass
        answer = self._answer(block=True)
        assert answer is not None
        if "run_id" not in answer:
            raise self._failure(answer, doing)
        return str(answer["run_id"])

    def close(self) -> None:
        """Let the child go: without a result it exits without logging anything.

        After a record the child is exiting and is waited for; otherwise it is not
        (it may still be importing MLflow) and finishes on its own.
        """
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):
            self._process.stdin.close()
        if self._process.stdout is not None and not self._reader.is_alive():
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
        self._stderr.close()


def _send(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def _reason(err: BaseException) -> str:
    if isinstance(err, MlopsError):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def main() -> int:
    """The child: open the store, wait for a result, log it."""
    # Ctrl-C reaches the whole process group; the parent decides (by closing the pipe).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from ml_service.batch import EXPERIMENT
        from ml_service.batch.record import record_run
        from ml_service.batch.result import BatchRequest, BatchResult
        from ml_service.settings import load_env
        from ml_service.tracking.store import configure_tracking
        from ml_service.uris import mask_password

        env = load_env()
        try:
            tracking = configure_tracking(env.model_copy(update={"experiment_name": EXPERIMENT}))
        except Exception as err:
            _send({"error": f"{mask_password(env.tracking_uri)}: {_reason(err)}"})
            return 1
        _send({"open": True})
        line = sys.stdin.readline()
        if not line:
            return 0  # the job stopped before it had anything to record
        message = json.loads(line)
        result = BatchResult(**message["result"])
        request = BatchRequest(**message["request"])
        try:
            recorded = record_run(
                tracking, result, request, message["threshold"], started_ms=message["started"]
            )
        except Exception as err:
            _send({"error": f"{mask_password(env.tracking_uri)}: {_reason(err)}"})
            return 1
        _send({"run_id": recorded.run_id})
    except BrokenPipeError:
        # The parent is gone; nothing to tell. Keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
