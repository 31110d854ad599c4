"""A second Python process for a pipeline run's side work, on the machine's other core.

Steps run in-process one after the other. While Train fits and logs its model,
work whose result is needed only later (rendering its plots, importing
skl2onnx and converting the model to ONNX for Register) can run beside it.
The local orchestrator enables this for an in-process run and stops it when the
run ends; a step then asks for the process (`start`, naming modules to import
ahead) only when it has such work, so a run that reuses its training never
starts it. Jobs are module-level functions with picklable arguments, run one at
a time in the order given, in `python -m ml_service.pipelines.side_process`
(its own interpreter, not a fork of this process with its open databases, and
not a re-run of whatever script started this one).

The outcome never depends on the process: when it is not enabled (steps in
their own processes, Azure ML) or cannot start or dies, `run` calls the job
here instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import IO, Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def import_modules(names: tuple[str, ...]) -> None:
    """Import modules (a job: what the next jobs need, imported before they are asked).

    Under `long_lived_imports`: skl2onnx and matplotlib create a great many objects that
    live as long as the process, which would otherwise trigger collection after collection.
    """
    from ml_service.startup import long_lived_imports

    with long_lived_imports():
        for name in names:
            importlib.import_module(name)


class _SideProcess:
    """The child process, the jobs sent to it and a thread that reads their results."""

    def __init__(self) -> None:
        child_env = dict(os.environ)
        # The child imports what this process can (the model package included).
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env,
        )
        self.pending: dict[int, Future[Any]] = {}
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.next_id = 0
        # Results are read as they come, so a large job and a large result never wait
        # on each other through the two pipes.
        self.reader = threading.Thread(target=self._read, name="side-process-results", daemon=True)
        self.reader.start()

    def submit(self, job: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
        future: Future[Any] = Future()
        payload = pickle.dumps((job, args), protocol=pickle.HIGHEST_PROTOCOL)
        stdin = self.process.stdin
        assert stdin is not None
        if self.process.poll() is not None:
            raise RuntimeError("the side process has ended")
        with self.lock:  # never held while writing: the reader takes it to hand results on
            job_id = self.next_id
            self.next_id += 1
            self.pending[job_id] = future
        try:
            with self.write_lock:
                pickle.dump((job_id, payload), stdin)
                stdin.flush()
        except (OSError, ValueError) as err:  # a closed pipe: the process has ended
            with self.lock:
                self.pending.pop(job_id, None)
            raise RuntimeError(f"the side process has ended: {err}") from err
        return future

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                job_id, ok, value = pickle.load(stdout)
                with self.lock:
                    future = self.pending.pop(job_id, None)
                if future is None:
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except Exception as err:  # EOF, a closed pipe, a result that cannot be read
            log.debug("side process results end: %s", err)
        with self.lock:
            pending, self.pending = self.pending, {}
        for future in pending.values():
            future.set_exception(RuntimeError("the side process ended before the job"))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self.reader.join(timeout=5)


_enabled = False
_side: _SideProcess | None = None


def enable() -> None:
    """Allow steps of this process to start the side process (the orchestrator's call)."""
    global _enabled
    _enabled = True


def start(preload: Iterable[str] = ()) -> bool:
    """Start the side process if enabled and not yet running, and queue imports of `preload`.

    Returns:
        Whether side work will run in the side process (False: `run` calls jobs here).
    """
    global _side
    if not _enabled:
        return False
    if _side is None:
        try:
            _side = _SideProcess()
        except (OSError, ValueError, TypeError) as err:  # e.g. no usable sys.executable
            log.debug("no side process (%s): side work runs in-process", err)
            return False
    names = tuple(preload)
    if names:
        submit(import_modules, names)
    return True


def submit(job: Callable[..., T], *args: Any) -> Future[T] | None:
    """Queue `job(*args)` in the side process; None when there is none (`run` it anyway)."""
    if _side is None:
        return None
    try:
        return _side.submit(job, args)
    except (RuntimeError, pickle.PicklingError, TypeError, AttributeError) as err:
        log.debug("side job %s not sent (%s)", job.__name__, err)
        return None


def run(job: Callable[..., T], *args: Any, future: Future[T] | None = None) -> T:
    """The result of `job(*args)`: from `future` (queued earlier) or a new side job, else here.

    A job that fails in the side process, or whose result cannot come back, is
    run again here, so its outcome (or its error) is the one an in-process call gives.
    """
    if future is None:
        future = submit(job, *args)
    if future is not None:
        try:
            return future.result()
        except Exception as err:  # the job's own error, or a side process that died
            log.debug("side job %s failed there (%s); running it here", job.__name__, err)
    return job(*args)


def stop() -> None:
    """End the side process, dropping queued jobs (the orchestrator's call when a run ends)."""
    global _side, _enabled
    side, _side, _enabled = _side, None, False
    if side is not None:
        side.stop()


def _serve(jobs: IO[bytes], results: IO[bytes]) -> None:
    """The side process: run each job it is sent, send back its result or its error."""
    while True:
        try:
            job_id, payload = pickle.load(jobs)
        except EOFError:
            return
        try:
            job, args = pickle.loads(payload)
            value, ok = job(*args), True
        except Exception as err:  # handed back to the caller, which runs the job itself
            value, ok = err, False
        try:
            data = pickle.dumps((job_id, ok, value), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:  # a result or error that cannot be pickled
            data = pickle.dumps((job_id, False, RuntimeError(f"{type(err).__name__}: {err}")))
        results.write(data)
        results.flush()


if __name__ == "__main__":
    # Results go to the original stdout; anything a job prints goes to stderr.
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, protocol_out)
