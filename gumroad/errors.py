"""Errors raised by the Gumroad client and parsers.

Every client error is a `GumroadError` whose `str()` is one user-safe line that the
Odoo layer can show as is. `retryable` says whether the client's retry rule applies.
Parsing problems are `MalformedPayloadError`, a `ValueError`, never a `GumroadError`:
they describe data we received, not a failed request.
"""

TOKEN_HELP = (
    "Generate a new token in Gumroad (Settings > Advanced > Applications) "
    "and save it on the connector."
)


class GumroadError(Exception):
    """A request to Gumroad failed; `message` is one user-safe line."""

    retryable = False

    def __init__(self, message, *, status=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body

    def __str__(self):
        return self.message


class AuthenticationError(GumroadError):
    """HTTP 401: the token is missing, invalid or revoked (Gumroad sends no body)."""

    def __init__(self, message=None, *, status=401, body=None):
        message = message or (
            "Gumroad rejected the access token: it is invalid or has been revoked. "
            + TOKEN_HELP
        )
        super().__init__(message, status=status, body=body)


class MissingScopeError(GumroadError):
    """HTTP 403: the token lacks the scope the endpoint needs."""


class NotFoundError(GumroadError):
    """HTTP 200 `success: false` "The X was not found.", or an HTTP 404."""


class SaleNotFoundError(NotFoundError):
    """GET /sales/:id found no sale of this account with that id."""


class InvalidRequestError(GumroadError):
    """A 400 `{"status": 400, "error": ...}`, another 4xx, or a refused change."""


class QueryTimeoutError(InvalidRequestError):
    """A 400 "Query timed out...": the sales query spans too much; narrow it."""


class RateLimitError(GumroadError):
    """HTTP 429 "Retry later" from Rack::Attack (no Retry-After header by default)."""

    retryable = True

    def __init__(self, message, *, status=429, body=None, retry_after=None):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class ServerError(GumroadError):
    """HTTP 5xx."""

    retryable = True

    def __init__(self, message, *, status=None, body=None, retry_after=None):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class GumroadConnectionError(GumroadError):
    """Timeouts, refused or dropped connections, truncated or unreadable bodies."""

    retryable = True


class MalformedPayloadError(ValueError):
    """A sale, ping or amount that cannot be read.

    The message names the sale (when known) and the field, e.g.
    "Sale 'abc==': field 'price' is not an integer ('x')."
    """

    def __init__(self, message, *, sale_id=None, field=None):
        super().__init__(message)
        self.message = message
        self.sale_id = sale_id
        self.field = field

    def __str__(self):
        return self.message

    @classmethod
    def for_field(cls, problem, *, field, value=None, sale_id=None, show_value=True):
        """Build "Sale 'id': field 'f' <problem> ('value')." with a short value."""
        subject = (
            f"Sale {sale_id!r}: field {field!r}" if sale_id else f"Field {field!r}"
        )
        text = f"{subject} {problem}"
        if show_value:
            text += f" ({_short_repr(value)})"
        return cls(text + ".", sale_id=sale_id, field=field)


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
