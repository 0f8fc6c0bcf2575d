"""The project's exception types.

Every rejected operation raises a subclass of `DaosimError` *before* it changes any state,
with a message naming the offending argument and the reason.
"""


class DaosimError(Exception):
    """Base class of every error the simulator raises on purpose."""


class LedgerError(DaosimError):
    """A ledger operation was refused (bad amount, unknown token, overdraft, wrong issuer)."""


class InsufficientBalance(LedgerError):
    """A holder tried to move or burn more than it holds."""


class UnknownToken(LedgerError):
    """An operation named a token the ledger has never created."""


class NotIssuer(LedgerError):
    """Someone other than a token's issuer tried to mint or burn it."""


class InvalidAmount(DaosimError, ValueError):
    """An amount or parameter was negative, non-finite or otherwise impossible."""


class InsufficientLiquidity(DaosimError):
    """A pool, market or vault cannot pay out what was asked (e.g. utilization at 100 %)."""


class SlippageExceeded(DaosimError):
    """A trade would execute at a worse price than the caller's limit allows."""


class ConfigError(DaosimError, ValueError):
    """A scenario, sweep or policy configuration is invalid; the message names the field."""


class PolicyError(DaosimError):
    """The treasury's policy raised, or answered what the allocator cannot act on (a key that
    is no asset or venue, a non-finite or negative target); the message names the policy and
    the step, so a run stops with one line rather than trading on a wrong answer."""
