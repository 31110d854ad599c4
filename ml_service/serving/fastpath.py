"""The scoring calls' lean path: `POST /score` and `/invocations` without FastAPI's request stack.

FastAPI's stack (its error middleware, exception middleware, router, dependency
resolution, request and response objects) costs several times what scoring a
row costs. The routes stay declared in FastAPI, so the OpenAPI document, its
request and response schemas and the declared handlers are unchanged; the app
(`ScoringApp`) hands a POST to either path to a `ScoringEndpoint` first, which
does what the declared handler does with the same functions, in the same order:
the key check, the Content-Type check, reading the body within its limit,
scoring, data collection, and the same answers and error bodies. It runs inside
its own `ServiceMiddleware`, so request ids, headers, the 413 on a declared
oversized body, metrics, the access log and traces are the same code too.
Every other request (other methods, other paths, a mounted app's `root_path`)
goes through FastAPI as before.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from ml_service.errors import AuthenticationError, ScoringInputError
from ml_service.models.scoring import ScoredBatch
from ml_service.serving import responses
from ml_service.serving.deps import ServingContext, check_scoring_key
from ml_service.serving.routes.scoring import answer_body, check_content_type, receive_body

_JSON = (b"content-type", b"application/json")


class ScoringEndpoint:
    """One scoring route as a plain ASGI app (the request is a POST to its path).

    Args:
        context: the serving context (its `model` may change per request, as an
            endpoint's routing sets it).
        scorer: body bytes → ScoredBatch (`score_azure_body` or `score_mlflow_body`).
        key: the key of the predictions in the answer.
    """

    def __init__(
        self, context: ServingContext, scorer: Callable[..., ScoredBatch], key: str
    ) -> None:
        self.context = context
        self.scorer = scorer
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = self.context
        authorization = content_type = None
        # The first of repeated headers counts, as Starlette's `Headers.get` has it.
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
        try:
            check_scoring_key(authorization, context.scoring_key)
            check_content_type(content_type or "")
            body = await receive_body(receive, context.max_body_bytes)
            batch = self.scorer(context.model, body, max_rows=context.max_rows)
            answer = answer_body(context, scope["state"], batch, self.key)
        except AuthenticationError as err:
            await responses.unauthorized(err)(scope, receive, send)
            return
        except ScoringInputError as err:
            await responses.bad_input(err)(scope, receive, send)
            return
        headers = [(b"content-length", b"%d" % len(answer)), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
