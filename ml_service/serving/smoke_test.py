"""Smoke test of a running scoring service: post the 2-row sample, check the answer.

`python -m ml_service.util.smoke_test_scoring_service --url URL [--key KEY]`
(MLOpsPython's command) exits 0 when the service answers `{"result": [2 numbers]}`,
non-zero otherwise. It retries while the service starts (connection refused,
503), a bounded number of times.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import urllib.error
import urllib.request

log = logging.getLogger(__name__)

SAMPLE = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}
RETRYABLE_STATUS = frozenset({502, 503, 504})


class SmokeTestError(Exception):
    """The service answered, but not as it should."""


def scoring_url(url: str) -> str:
    """The `/score` URL of a service given by its base URL or its scoring URL."""
    url = url.rstrip("/")
    return url if url.endswith("/score") else f"{url}/score"


def check_answer(answer: object, rows: int = len(SAMPLE["data"])) -> list[float]:
    """The predictions in an answer, if it is `{"result": [rows finite numbers]}`.

    Raises:
        SmokeTestError: the answer has another shape.
    """
    if not isinstance(answer, dict) or "result" not in answer:
        raise SmokeTestError('the answer has no "result"')
    result = answer["result"]
    if not isinstance(result, list) or len(result) != rows:
        raise SmokeTestError(f'"result" should hold {rows} predictions')
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in result):
        raise SmokeTestError('"result" holds something other than finite numbers')
    return [float(v) for v in result]


def call_scoring_service(
    url: str,
    key: str | None = None,
    *,
    attempts: int = 30,
    wait_seconds: float = 1.0,
    headers: dict[str, str] | None = None,
) -> list[float]:
    """Post the sample to the service, retrying while it starts; return the predictions.

    `headers` are sent too, e.g. `azureml-model-deployment` to test one deployment.

    Raises:
        SmokeTestError: a wrong answer, a client error, or no answer after `attempts` tries.
    """
    headers = {**(headers or {}), "Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = json.dumps(SAMPLE).encode()
    target = scoring_url(url)
    last_problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return check_answer(json.loads(response.read()))
        except urllib.error.HTTPError as err:
            if err.code not in RETRYABLE_STATUS:
                raise SmokeTestError(f"{target} answered HTTP {err.code}") from err
            last_problem = f"HTTP {err.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            last_problem = str(getattr(err, "reason", err))
        except json.JSONDecodeError as err:
            raise SmokeTestError(f"{target} answered something that is not JSON") from err
        log.info("attempt %d/%d: %s; retrying", attempt, attempts, last_problem)
        if attempt < attempts:
            time.sleep(wait_seconds)
    raise SmokeTestError(f"{target} did not answer after {attempts} attempts: {last_problem}")


def main(argv: list[str] | None = None) -> int:
    """Run the smoke test; 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Service base URL or its /score URL.")
    parser.add_argument("--key", default=None, help="Scoring key, when key auth is on.")
    parser.add_argument("--attempts", type=int, default=30, help="Tries while the service starts.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        predictions = call_scoring_service(args.url, args.key, attempts=args.attempts)
    except SmokeTestError as err:
        log.error("smoke test failed: %s", err)
        return 1
    log.info("smoke test passed: %s", predictions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
