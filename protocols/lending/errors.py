"""The lending market's refusals: one `LendingError` family under `DaosimError`.

Like every refusal in the project (protocols.errors), each is raised before any state
changes. Overdrafts and bad amounts raise the shared `InsufficientBalance`,
`InsufficientLiquidity` and `InvalidAmount` instead.
"""

from protocols.errors import DaosimError


class LendingError(DaosimError):
    """A lending-market operation was refused."""


class UnknownReserve(LendingError):
    """The asset is not a reserve of this market."""


class UnknownPosition(LendingError):
    """No position has this id."""


class ReserveDisabled(LendingError):
    """The reserve cannot be borrowed, or cannot back a position as collateral."""


class CapExceeded(LendingError):
    """A supply or borrow cap would be exceeded."""


class InsufficientCollateral(LendingError):
    """A borrow or a collateral withdrawal fails the LTV / health-factor checks."""


class NotLiquidatable(LendingError):
    """The position is healthy, or holds none of the named collateral / debt."""


class NoDebt(LendingError):
    """A repayment named a debt the position does not have."""
