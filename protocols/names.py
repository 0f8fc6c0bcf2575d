"""Ledger names: what every token and holder is called, built and parsed in this one place.

Tokens. A base asset is its symbol ("ETH"), minted by its outside issuer `issuer:ETH` (the
rest of the world's supply, and the asset's node in the dependency graph). A protocol `P`
issues tokens named `P:<suffix>`:
- `M:a<ASSET>`: a lending market's receipt token (Aave's aToken) for reserve ASSET - the
  asset may itself be composed (`aave:auniv2-ETH-USDC:LP`);
- `P:LP`: a Uniswap v2 or Curve pool's LP token;
- `V:shares`: an option vault's shares (`V:option` is its options contract);
- `P:v3`: not a ledger token but the key under which a holder's Uniswap v3 positions in
  pool P are booked and weighted (v3 positions are NFTs, not fungible balances).
- a bridge's wrapped asset is a plain symbol its spec declares ("madWETH"), issued by the
  bridge itself (not by `issuer:<ASSET>`), so pools and lending markets list it, oracles
  and arbitrageurs price it, exactly as a base asset (`protocols.bridge`).
Protocol names cannot contain ":", so a name splits at its first ":" into issuer and suffix.

Holders. Agents hold under `<prefix>:<id>` (`arb:3`, `liq:5`, `lp:0`, `borrowers:7`); a
protocol's own sub-accounts are `P:<role>` (`aave:collateral`, `aave:treasury`,
`univ2:locked`, a bridge's `B:locked` and `B:transit`); the passive counterparties the
world is seeded with are `suppliers:<market>` and `depositors:<vault>`; the rest are fixed
names below.
"""

from __future__ import annotations

from typing import NamedTuple

#: Kinds of protocol-issued names (`parse`).
RECEIPT, LP, SHARES, OPTION, V3 = "receipt", "lp", "shares", "option", "v3"

#: The DAO treasury's ledger holder.
TREASURY = "treasury"
#: Buys the option vaults' options.
OPTIONS_DESK = "options-desk"
#: The off-chain market (a centralized exchange) that trades at reference prices.
OFFCHAIN = "offchain-market"
#: Receives what an exploit drains.
EXPLOITER = "exploiter"
#: The flash-loan lender: receives the premium a liquidator pays on each flash loan (the
#: principal is minted by the asset's outside issuer and burned at repayment, so only the
#: premium stays in the simulation).
FLASH_LENDER = "flash-lender"
#: Where the treasury's operating spend and gas fees go.
PAYEES = "opex:payees"
GAS_SINK = "gas-fees"

#: Holder-id prefixes of agents, and the dependency-graph node each kind is grouped into.
ARBITRAGEUR, LIQUIDATOR, LIQUIDITY_PROVIDER, BORROWER = "arb", "liq", "lp", "borrowers"
AGENT_GROUPS = {
    LIQUIDITY_PROVIDER: "liquidity_providers", ARBITRAGEUR: "arbitrageurs",
    LIQUIDATOR: "liquidators",
}


class TokenName(NamedTuple):
    """A protocol-issued name taken apart: the issuing protocol, the kind (None for a suffix
    no protocol issues), and for a receipt token its underlying asset."""

    issuer: str
    kind: str | None
    asset: str | None = None


# -- tokens -------------------------------------------------------------------------------
def issuer(asset: str) -> str:
    """Ledger holder that mints base asset `asset`: the world outside the protocols."""
    return f"issuer:{asset}"


def receipt(market: str, asset: str) -> str:
    return f"{market}:a{asset}"


def lp_token(pool: str) -> str:
    return f"{pool}:LP"


def vault_shares(vault: str) -> str:
    return f"{vault}:shares"


def vault_option(vault: str) -> str:
    return f"{vault}:option"


def v3_positions(pool: str) -> str:
    return f"{pool}:v3"


def is_composed(token: str) -> bool:
    """A protocol-issued name (`issuer:suffix`) rather than a base asset symbol."""
    return ":" in token


def parse(token: str) -> TokenName | None:
    """`token` taken apart (module doc); None for a base asset symbol."""
    owner, sep, suffix = token.partition(":")
    if not sep:
        return None
    if suffix == "LP":
        return TokenName(owner, LP)
    if suffix == "shares":
        return TokenName(owner, SHARES)
    if suffix == "option":
        return TokenName(owner, OPTION)
    if suffix == "v3":
        return TokenName(owner, V3)
    if suffix.startswith("a") and len(suffix) > 1:
        return TokenName(owner, RECEIPT, suffix[1:])
    return TokenName(owner, None)


# -- holders ------------------------------------------------------------------------------
def agent(prefix: str, agent_id: int | str) -> str:
    """An agent's holder id, e.g. `agent(LIQUIDATOR, 5)` -> "liq:5"."""
    return f"{prefix}:{agent_id}"


def sub_account(protocol: str, role: str) -> str:
    """A protocol's own account: `collateral` (a market's escrow), `treasury`, `locked`."""
    return f"{protocol}:{role}"


def suppliers(market: str) -> str:
    """The passive suppliers a market's initial liquidity comes from."""
    return f"suppliers:{market}"


def depositors(vault: str) -> str:
    """The passive depositors of a vault's initial deposits."""
    return f"depositors:{vault}"


def borrower_group(market: str) -> str:
    """The dependency-graph node of a market's borrowers: their wallets and their positions
    (the collateral they posted, the debt they owe)."""
    return f"{BORROWER}:{market}"
