"""The single ledger: every balance of every holder in every token.

Money never appears or vanishes: only `transfer`, `mint` and `burn` change a balance, and
`mint`/`burn` only by the token's issuer. Receipt tokens (lending deposits, LP shares, vault
shares) live here like any other token, which is what makes composability - and so
contagion - mechanical: protocol B holding protocol A's token *is* the edge A -> B.

Amounts are floats in whole-token units. A refused operation raises a `LedgerError` (or
`InvalidAmount`) before touching any balance.
"""

import math
from collections.abc import Iterator

from protocols.errors import InsufficientBalance, LedgerError, NotIssuer, UnknownToken
from protocols.validation import check_amount

#: Relative tolerance of `check_conservation`, against the largest supply the token ever had:
#: float addition is not associative, so sum(balances) and supply drift by a few ulps.
CONSERVATION_RTOL = 1e-9


class Ledger:
    """Balances (holder x token), token supplies and issuers."""

    def __init__(self) -> None:
        self._balances: dict[str, dict[str, float]] = {}
        self._supply: dict[str, float] = {}
        self._peak_supply: dict[str, float] = {}
        self._issuer: dict[str, str] = {}
        self._writes: dict[str, int] = {}

    # -- tokens -------------------------------------------------------------------------
    def create_token(self, token: str, issuer: str) -> None:
        """Register `token`; only `issuer` may ever mint or burn it."""
        if not isinstance(token, str) or not token:
            raise LedgerError(f"token: must be a non-empty string, got {token!r}")
        if not isinstance(issuer, str) or not issuer:
            raise LedgerError(f"issuer: must be a non-empty string, got {issuer!r}")
        if token in self._issuer:
            issuer_now = self._issuer[token]
            raise LedgerError(f"token: {token!r} already exists (issued by {issuer_now!r})")
        self._balances[token] = {}
        self._supply[token] = 0.0
        self._peak_supply[token] = 0.0
        self._issuer[token] = issuer

    def has_token(self, token: str) -> bool:
        return token in self._issuer

    def issuer_of(self, token: str) -> str:
        self._book(token)
        return self._issuer[token]

    def tokens(self) -> list[str]:
        return list(self._issuer)

    # -- reads --------------------------------------------------------------------------
    def balance_of(self, holder: str, token: str) -> float:
        return self._book(token).get(holder, 0.0)

    def writes_of(self, holder: str) -> int:
        """How many mints, burns and transfers have touched `holder`'s balances: a reader
        that kept it knows, while it is unchanged, that none of them moved (a pool's state
        is its balances and what moves with them)."""
        return self._writes.get(holder, 0)

    def total_supply(self, token: str) -> float:
        self._book(token)
        return self._supply[token]

    def holders(self, token: str) -> dict[str, float]:
        """Non-zero balances of `token`, by holder (a copy)."""
        return {h: b for h, b in self._book(token).items() if b != 0.0}

    def balances_of(self, holder: str) -> dict[str, float]:
        """Non-zero balances of `holder`, by token (a copy)."""
        return {t: book[holder] for t, book in self._balances.items() if book.get(holder, 0.0)}

    def all_holders(self) -> Iterator[str]:
        seen: set[str] = set()
        for book in self._balances.values():
            for holder in book:
                if holder not in seen:
                    seen.add(holder)
                    yield holder

    def snapshot(self) -> dict[str, dict]:
        """For tests and checks: compare state before and after an operation.

        A deep copy in plain dicts that compare with ==: "balances" (token -> holder ->
        amount, zero balances included), "supply" (token -> amount) and "issuer" (token ->
        issuer).
        """
        return {
            "balances": {token: dict(book) for token, book in self._balances.items()},
            "supply": dict(self._supply),
            "issuer": dict(self._issuer),
        }

    # -- writes -------------------------------------------------------------------------
    def mint(self, token: str, to: str, amount: float, *, by: str) -> None:
        """Create `amount` of `token` in `to`'s balance; `by` must be the token's issuer."""
        book = self._book(token)
        amount = check_amount("amount", amount)
        self._require_issuer(token, by, "mint")
        book[to] = book.get(to, 0.0) + amount
        self._writes[to] = self._writes.get(to, 0) + 1
        supply = self._supply[token] + amount
        self._supply[token] = supply
        if supply > self._peak_supply[token]:
            self._peak_supply[token] = supply

    def burn(self, token: str, holder: str, amount: float, *, by: str) -> None:
        """Destroy `amount` of `token` from `holder`'s balance; `by` must be the issuer."""
        book = self._book(token)
        amount = check_amount("amount", amount)
        self._require_issuer(token, by, "burn")
        balance = book.get(holder, 0.0)
        if amount > balance:
            raise InsufficientBalance(
                f"burn: {holder!r} holds {balance!r} {token}, cannot burn {amount!r}"
            )
        book[holder] = balance - amount
        self._writes[holder] = self._writes.get(holder, 0) + 1
        # Float dust: never report a supply below zero after burning everything.
        self._supply[token] = max(self._supply[token] - amount, 0.0)

    def transfer(self, token: str, sender: str, recipient: str, amount: float) -> None:
        """Move `amount` of `token` from `sender` to `recipient`."""
        book = self._book(token)
        amount = check_amount("amount", amount)
        balance = book.get(sender, 0.0)
        if amount > balance:
            raise InsufficientBalance(
                f"transfer: {sender!r} holds {balance!r} {token}, cannot send {amount!r}"
            )
        book[sender] = balance - amount
        book[recipient] = book.get(recipient, 0.0) + amount
        writes = self._writes
        writes[sender] = writes.get(sender, 0) + 1
        writes[recipient] = writes.get(recipient, 0) + 1

    # -- invariants ---------------------------------------------------------------------
    def check_conservation(self) -> None:
        """Assert, for every token, that the sum of balances equals the supply.

        Raises `LedgerError` naming the first token that breaks it. The tolerance is
        `CONSERVATION_RTOL` times the token's peak supply (float rounding only).
        """
        for token, book in self._balances.items():
            total = math.fsum(book.values())
            supply = self._supply[token]
            tolerance = CONSERVATION_RTOL * self._peak_supply[token]
            if abs(total - supply) > tolerance:
                raise LedgerError(
                    f"conservation broken for {token}: balances sum to {total!r}, "
                    f"supply is {supply!r}"
                )
            negative = [h for h, b in book.items() if b < 0]
            if negative:
                raise LedgerError(f"negative {token} balance held by {negative[0]!r}")

    # -- internals ----------------------------------------------------------------------
    def _book(self, token: str) -> dict[str, float]:
        try:
            return self._balances[token]
        except (KeyError, TypeError):
            raise UnknownToken(f"token: unknown token {token!r}") from None

    def _require_issuer(self, token: str, by: str, action: str) -> None:
        issuer = self._issuer[token]
        if by != issuer:
            raise NotIssuer(f"{action}: only {issuer!r} may {action} {token}, not {by!r}")
