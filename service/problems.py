"""RFC 9457 problem+json responses: every error the service returns goes through here."""

from __future__ import annotations

from http import HTTPStatus

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from framework_advisor.models import FieldError
from framework_advisor.models import Problem as ProblemBody
from framework_advisor.storage import StoreError, StoreFull

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An error a client caused (or a service condition it should know about), as problem+json."""

    def __init__(self, status: int, detail: str, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(status: int, detail: str, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body = ProblemBody(title=HTTPStatus(status).phrase, status=status, detail=detail,
                       instance=request.path if request else "", errors=tuple(errors) if errors else None)
    response = Response(body.model_dump_json(exclude_none=True), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_HTTP_DETAILS = {
    404: "No such resource: see /openapi.yaml for the endpoints.",
    405: "Method not allowed here.",
    413: "The request body is too large.",
}


def register_problem_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        return problem_response(error.status, error.detail, error.errors, error.headers)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {}
        if status == 405 and error.valid_methods:  # keep the Allow header Werkzeug would send
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        detail = _HTTP_DETAILS.get(status, error.description or HTTPStatus(status).phrase)
        if status == 405:
            detail = f"{request.method} is not allowed on {request.path}; allowed: {headers.get('Allow', 'none')}."
        return problem_response(status, detail, headers=headers)

    @app.errorhandler(StoreError)
    def _store(error: StoreError) -> Response:
        # The message names the store's file; 507 when it is full (retry once space is freed), 503 else.
        current_app.logger.error("store error on %s %s: %s", request.method, request.path, error)
        if isinstance(error, StoreFull):
            return problem_response(507, str(error))
        return problem_response(503, str(error), headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # A bug, never the client's fault: log it with its traceback, answer without one.
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "Internal error; it has been logged.")
