"""The trading surface every pool offers (Uniswap v2, Curve StableSwap, Uniswap v3), so
agents route, arbitrage and value through any of them alike, never switching on its kind.

Prices are marginal prices of one token in another, fee excluded: what the next
infinitesimal unit of `token_in` fetches in `token_out`, divided by (1 - fee) - before a
trade, the pool's price (`spot_price`). Two quotes walk the curve to a target:
`quote_to_price` to a price limit, as v3's swap takes one (sqrtPriceLimitX96), and
`quote_to_rate` to the rate the next unit pays, fees included - selling to an external
price ratio p_in / p_out that way is the profit-maximising arbitrage. Each pool computes the
one its math gives exactly and derives the other by the factor (1 - fee).
"""

from __future__ import annotations

from typing import Protocol

from protocols.ledger import Ledger


class Pool(Protocol):
    name: str
    ledger: Ledger
    #: the tokens it trades, in the pool's order
    tokens: tuple[str, ...]
    #: swap fee, a fraction of the input (v2, v3) or of the output (Curve)
    fee: float
    #: its fungible LP token (`protocols.names.lp_token`), or None where liquidity is held
    #: as positions (Uniswap v3)
    lp_token: str | None

    def reserves(self) -> dict[str, float]:
        """The pool's ledger balance of each token."""
        ...

    def spot_price(self, base: str, quote: str) -> float:
        """Marginal price of 1 `base` in `quote`, fee excluded."""
        ...

    def total_liquidity(self) -> float:
        """The pool's depth in a unit that price moves leave unchanged: swaps keep it (fees
        only add to it), deposits and withdrawals move it in proportion, a drain lowers it.
        What `sim.distress` compares with its start to tell liquidity leaving from a price
        move (each pool names the whitepaper quantity)."""
        ...

    def quote_exact_in(self, token_in: str, token_out: str, amount_in: float) -> float:
        """What `swap_exact_in` would pay now; changes nothing."""
        ...

    def quote_exact_out(self, token_in: str, token_out: str, amount_out: float) -> float:
        """What `swap_exact_out` would take now, fee included; changes nothing."""
        ...

    def quote_to_price(self, token_in: str, token_out: str, price: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the marginal price of
        `token_in` in `token_out` (module doc) has fallen to `price`; (0, 0) when it is
        there or below already. Changes nothing."""
        ...

    def quote_to_rate(self, token_in: str, token_out: str, rate: float) -> tuple[float, float]:
        """(amount_in, amount_out) of the exact-input swap after which the next unit of
        `token_in` pays `rate` of `token_out`, fees included; (0, 0) when even the first
        unit pays no more. Changes nothing."""
        ...

    def swap_exact_in(self, trader: str, token_in: str, token_out: str, amount_in: float,
                      min_amount_out: float = 0.0) -> float:
        """Sell exactly `amount_in`; returns the output paid to `trader`."""
        ...

    def swap_exact_out(self, trader: str, token_in: str, token_out: str, amount_out: float,
                       max_amount_in: float = ...) -> float:
        """Buy exactly `amount_out`; returns the input taken from `trader`."""
        ...
