"""Domain errors; each API surface maps them to its own error shape in one place."""

from __future__ import annotations


class AppError(Exception):
    """Base of every error wikiloom reports to a user."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    """A thing named by id or name does not exist."""

    code = "not found"
    status = 404


class Conflict(AppError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"
    status = 409


class Forbidden(AppError):
    """The caller may not do this."""

    code = "forbidden"
    status = 403


class ModelNotServed(NotFound):
    """A wiki has the model but does not serve it now; `state` says why (`paused`, ...)."""

    code = "model not served"

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class Unauthenticated(AppError):
    """Nobody is logged in, and this needs a user (newer APIs; Wiki labels answers 403)."""

    code = "unauthorized"
    status = 401


class BadRequest(AppError):
    """The input is malformed or fails validation."""

    code = "bad request"
    status = 400


class InvalidLabel(BadRequest):
    """A label does not fit its campaign's form; `field` names the offending field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FormError(AppError):
    """A form definition cannot be loaded; the message names the file and line."""

    code = "bad form"
    status = 500


class ServiceUnavailable(AppError):
    """A backing service (the database) is temporarily unreachable."""

    code = "unavailable"
    status = 503


class NotConfigured(AppError):
    """The server lacks a setting that this request needs; the message names it."""

    code = "not configured"
    status = 503


class WikiUnavailable(ServiceUnavailable):
    """A wiki could not be reached, or did not answer in time."""


class WikiError(AppError):
    """A wiki's API answered with an error; `api_code` is MediaWiki's error code."""

    code = "wiki error"
    status = 502

    def __init__(self, message: str, api_code: str) -> None:
        super().__init__(message)
        self.api_code = api_code


class RevisionProblem(AppError):
    """A revision cannot be used as asked; not retryable. Named as ORES names it."""

    code = "revision problem"
    status = 422

    def __init__(self, message: str, rev_id: int) -> None:
        super().__init__(message)
        self.rev_id = rev_id


class RevisionNotFound(RevisionProblem):
    """The revision does not exist, or was deleted with its page."""

    code = "RevisionNotFound"
    status = 404


class TextDeleted(RevisionProblem):
    """The revision's text (or its parent's) is hidden by revision deletion."""

    code = "TextDeleted"


class CommentDeleted(RevisionProblem):
    """The revision's edit summary is hidden by revision deletion."""

    code = "CommentDeleted"


class UserDeleted(RevisionProblem):
    """The revision's editor is hidden by revision deletion."""

    code = "UserDeleted"
