"""The protocol-dependency graph, derived from ledger and protocol state at any step.

Nothing here is maintained by hand: every edge is read off the ledger (who holds whose
token), the lending books (what collateral a market accepts and holds, and whose positions
post it and owe its debt), the oracles (which pool a feed reads) and the pools (which assets
they trade).

Nodes (attribute `kind`):
- `pool`, `lending`, `vault`, `bridge`: the scenario's protocols, by name (a bridge issues
  its wrapped asset, so it has an edge to every pool, market and holder of it, and the
  canonical asset's issuer one to it for the lock);
- `issuer`: `issuer:<ASSET>`, the outside issuer of a base asset, so that a crash or a
  depeg has an origin node;
- `treasury`: the DAO;
- `agents`: holder groups - `liquidity_providers` (lp:k), `arbitrageurs` (arb:k),
  `liquidators` (liq:k), `borrowers:<market>` (the wallets of the cohorts
  borrowing in <market>, with their positions there), `suppliers:<market>`,
  `depositors:<vault>`, `options-desk`, `offchain-market`,
  `exploiter`. A protocol's own sub-accounts (`<name>:treasury`, `<name>:locked`...)
  belong to the protocol itself.
Each node has `value_usd`: pools their TVL, lending markets cash + outstanding debt,
vaults their NAV, bridges their lock, issuers the supply held inside the simulation,
holders what they hold.

An edge A -> B means B is exposed to A, with one attribute per channel (USD):
- `holdings_usd`: value of A-issued tokens B holds (receipt and LP tokens, vault shares,
  a base asset for its issuer; Uniswap v3 positions for their pool). The receipt tokens a
  market's collateral escrow holds belong to the owners of its positions: market A ->
  each owner's node (`treasury`, `borrowers:<market>`...), the collateral it posted there.
  A lending market's own cash of its reserve assets is no edge: it owes that cash to its
  suppliers, so its price moves leave the market whole;
- `collateral_usd`: A's token accepted as collateral by lending market B, valued at what
  B's book holds of it;
- `oracle_usd`: B's oracle reads A's pool TWAP - the collateral value B prices with it;
- `liquidity_usd`: pool A trades an asset B holds as collateral, so B's liquidations sell
  into A - the value of that collateral;
- `credit_usd`: B is a lending market and A's positions in it owe B this debt (interest
  included): what B loses if A does not repay and its collateral does not cover it. Summed
  over the nodes it is the market's total debt;
- `weight`: the sum of the five (an upper bound on what B can lose through A, used as the
  exposure of DebtRank).

A position's owner is its ledger holder, grouped as every holder is; a cohort wallet left
ungrouped (`borrowers:<id>`) counts under its market's `borrowers:<market>`.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np

from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.lending import LendingMarket
from protocols.world import World

CHANNELS = ("holdings_usd", "collateral_usd", "oracle_usd", "liquidity_usd", "credit_usd")
#: Balances below this USD value are dust, not exposure.
DUST_USD = 1e-6


def dependency_graph(
    world: World,
    step: int | None = None,
    *,
    groups: Mapping[str, str] | None = None,
    treasury: str = names.TREASURY,
) -> nx.DiGraph:
    """The dependency graph of `world` now (see the module doc). `groups` maps extra ledger
    holders to their node (the model maps borrower-cohort wallets to `borrowers:<market>`);
    `step` values vault shares (default: the world's current step)."""
    step = world.step if step is None else step
    graph = nx.DiGraph()
    price: dict[str, float] = {}

    def usd(token: str) -> float:
        if token not in price:
            price[token] = world.token_usd(token, step)
        return price[token]

    for name in world.pools:
        graph.add_node(name, kind="pool", value_usd=world.pool_tvl_usd(name))
    for name, market in world.markets.items():
        value = math.fsum((market.cash(a) + market.total_debt(a)) * usd(a) for a in market.assets)
        graph.add_node(name, kind="lending", value_usd=value)
    for name, vault in world.vaults.items():
        shares = world.ledger.total_supply(vault.shares)
        graph.add_node(name, kind="vault", value_usd=shares * usd(vault.shares))
    for name, bridge in world.bridges.items():
        graph.add_node(name, kind="bridge", value_usd=bridge.locked_amount * usd(bridge.canonical))
    for asset in world.assets:
        supply = world.ledger.total_supply(asset)
        graph.add_node(names.issuer(asset), kind="issuer", value_usd=supply * usd(asset))

    node_of = _grouping(world, groups or {}, treasury)
    held: dict[str, float] = {}
    escrows = {market.escrow for market in world.markets.values()}
    for token in world.ledger.tokens():
        source = world.ledger.issuer_of(token)
        source = source if source in graph else node_of(source)
        for holder, amount in world.ledger.holders(token).items():
            if holder in escrows:  # posted collateral: its positions' owners' (below)
                continue
            if holder in world.markets and token in world.markets[holder].assets:
                continue  # a market's own cash: owed to its suppliers, no price exposure
            value = amount * usd(token)
            target = node_of(holder)
            if value <= DUST_USD or target == source:
                continue
            held[target] = held.get(target, 0.0) + value
            _add(graph, source, target, "holdings_usd", value)
    for name, pool in world.pools.items():
        if isinstance(pool, ConcentratedLiquidityPool):
            token0, token1 = pool.tokens
            for holder in list(world.ledger.all_holders()):
                for pid in pool.positions_of(holder):
                    amount0, amount1 = pool.position_value(pid)
                    value = amount0 * usd(token0) + amount1 * usd(token1)
                    target = node_of(holder)
                    if value > DUST_USD and target != name:
                        held[target] = held.get(target, 0.0) + value
                        _add(graph, name, target, "holdings_usd", value)

    for name, market in world.markets.items():
        _position_edges(graph, name, market, usd, node_of, held)
        for asset in market.assets:
            if not market.reserves[asset].usable_as_collateral:
                continue
            receipt = market.receipt_token(asset)
            value = world.ledger.balance_of(market.escrow, receipt) * usd(receipt)
            if value <= DUST_USD:
                continue
            source = world.ledger.issuer_of(asset)
            source = source if source in graph else node_of(source)
            _add(graph, source, name, "collateral_usd", value)
            pool_name = world.oracle_pools.get(name, {}).get(asset)
            if pool_name is not None:
                _add(graph, pool_name, name, "oracle_usd", value)
            for pool_name, pool in world.pools.items():
                if asset in pool.tokens:
                    _add(graph, pool_name, name, "liquidity_usd", value)

    graph.add_node(treasury)
    for node, data in graph.nodes(data=True):
        data.setdefault("kind", "treasury" if node == treasury else "agents")
        data.setdefault("value_usd", held.get(node, 0.0))
    for _, _, data in graph.edges(data=True):
        for channel in CHANNELS:
            data.setdefault(channel, 0.0)
        data["weight"] = math.fsum(data[c] for c in CHANNELS)
    return graph


def _position_edges(graph: nx.DiGraph, name: str, market: LendingMarket,
                    usd: Callable[[str], float], node_of: Callable[[str], str],
                    held: dict[str, float]) -> None:
    """Market `name` -> each owner's node (`holdings_usd`: the escrowed receipt tokens its
    positions posted) and owner -> market (`credit_usd`: what they owe), summed per owner
    over the book's rows with numpy - a market can hold 100,000 positions."""
    if not market.n_positions:
        return
    assets = market.assets
    receipt_usd = np.array([usd(market.receipt_token(a)) for a in assets])
    debt_usd = np.array([market.borrow_index(a) * usd(a) for a in assets])
    owners, row_owner = _owners(market)
    collateral = np.bincount(row_owner, weights=market.collateral_scaled @ receipt_usd,
                             minlength=len(owners))
    debt = np.bincount(row_owner, weights=market.debt_scaled @ debt_usd,
                       minlength=len(owners))
    for owner, posted, owed in zip(owners, collateral.tolist(), debt.tolist(), strict=True):
        node = node_of(owner)
        if node == owner and owner.partition(":")[0] == names.BORROWER:
            node = names.borrower_group(name)  # an ungrouped cohort wallet
        if posted > DUST_USD:
            held[node] = held.get(node, 0.0) + posted
            _add(graph, name, node, "holdings_usd", posted)
        if owed > DUST_USD:
            _add(graph, node, name, "credit_usd", owed)


#: per market: its book's size, its positions' distinct owners and each row's owner index.
#: A position's owner never changes and positions are only appended, so the grouping (a
#: sort of 100,000 strings) is redone only when the book grows.
_OWNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _owners(market: LendingMarket) -> tuple[list[str], np.ndarray]:
    cached = _OWNERS.get(market)
    if cached is None or cached[0] != market.n_positions:
        owners, rows = np.unique(market.owner, return_inverse=True)
        cached = _OWNERS[market] = (market.n_positions, owners.tolist(), rows)
    return cached[1], cached[2]


def _add(graph: nx.DiGraph, source: str, target: str, channel: str, value: float) -> None:
    if source == target:
        return
    for node in (source, target):
        if node not in graph:
            graph.add_node(node)
    data = graph.get_edge_data(source, target)
    if data is None:
        graph.add_edge(source, target, **{channel: value})
    else:
        data[channel] = data.get(channel, 0.0) + value


def _grouping(world: World, groups: Mapping[str, str], treasury: str):
    """holder id -> node name (see the module doc)."""
    markets = world.markets
    cache: dict[str, str] = {}

    def node_of(holder: str) -> str:
        if holder in cache:
            return cache[holder]
        node = groups.get(holder)
        if node is None:
            prefix, sep, rest = holder.partition(":")
            if holder in world.protocols or holder == treasury:
                node = holder
            elif sep and prefix in markets and holder == markets[prefix].escrow:
                node = names.borrower_group(prefix)
            elif sep and prefix in world.protocols:
                node = prefix  # a protocol's own sub-account (treasury, locked, queue)
            elif sep and prefix in names.AGENT_GROUPS:
                node = names.AGENT_GROUPS[prefix]
            else:
                node = holder
        cache[holder] = node
        return node

    return node_of
