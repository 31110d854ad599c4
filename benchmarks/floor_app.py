"""The floor a Python scoring service can reach here: bare Starlette + uvicorn, no framework extras.

It parses the JSON body, does one numpy product with fixed weights and answers,
on the same event loop and HTTP parser the service uses (uvloop, httptools),
without access log, validation or data collection. `bench_scoring.py` starts it
beside the service to measure how close the service comes to it.

    python benchmarks/floor_app.py PORT
"""

from __future__ import annotations

import sys

import numpy as np
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WEIGHTS = np.random.default_rng(0).normal(size=10)
BIAS = 152.0


async def score(request: Request) -> Response:
    """`{"data": [[10 numbers], ...]}` in, `{"result": [...]}` out."""
    rows = np.asarray(orjson.loads(await request.body())["data"], dtype=np.float64)
    return Response(
        orjson.dumps({"result": (rows @ WEIGHTS + BIAS).tolist()}), media_type="application/json"
    )


app = Starlette(routes=[Route("/score", score, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="auto",
        http="auto",
        access_log=False,
        log_level="warning",
    )
