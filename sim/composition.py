"""Composed tokens: one protocol's token (a lending receipt, an LP token) accepted as a
reserve of a lending market, and the build order that this creates between protocols.

Token names are `protocols.names`: a lending market `M` issues `M:a<ASSET>` per reserve, a
Uniswap v2 or Curve pool `P` issues `P:LP`. A market accepting such a token depends on its
issuer, which must therefore be built first; a dependency cycle (A accepts B's receipt and
B accepts A's) has no build order and is rejected by `sim.scenario` with the field that
closes it.

No pydantic models at import time, so scenario validation stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from typing import Any

from protocols import names
from protocols.names import is_composed

#: Protocol kinds whose fungible token can be accepted elsewhere, and how it is named.
LP_KINDS = ("uniswap_v2", "curve")


def token_issuer(token: str, protocols: Mapping[str, Any]) -> tuple[str | None, str]:
    """(issuing protocol name, problem) of a composed token; the problem is '' when the
    token names a real token of a protocol in `protocols` (name -> schema spec)."""
    name = names.parse(token)
    spec = protocols.get(name.issuer) if name else None
    if spec is None:
        return None, f"{token!r} is neither an asset nor a token of a known protocol"
    issuer, kind = name.issuer, spec.kind
    if kind == "aave":
        if name.kind == names.RECEIPT and name.asset in spec.reserves:
            return issuer, ""
        return None, (f"{issuer!r} issues receipt tokens "
                      f"{sorted(names.receipt(issuer, r) for r in spec.reserves)}, not {token!r}")
    if kind in LP_KINDS:
        if name.kind == names.LP:
            return issuer, ""
        return None, f"pool {issuer!r} issues {names.lp_token(issuer)}, not {token!r}"
    return None, (f"{issuer!r} ({kind}) has no fungible token that can be held elsewhere "
                  "(supported: lending receipts M:aASSET, Uniswap v2 and Curve LP tokens)")


def dependencies(protocols: Iterable[Any]) -> dict[str, set[str]]:
    """Protocol name -> the protocols it needs built first: issuers of its composed
    reserves and the pools its oracles read."""
    by_name = {p.name: p for p in protocols}
    needs: dict[str, set[str]] = {name: set() for name in by_name}
    for name, spec in by_name.items():
        for token, reserve in getattr(spec, "reserves", {}).items():
            if is_composed(token):
                issuer, problem = token_issuer(token, by_name)
                if not problem and issuer is not None:
                    needs[name].add(issuer)
            pool = reserve.oracle.pool
            if pool is not None and pool in by_name:
                needs[name].add(pool)
    return needs


def build_order(protocols: Iterable[Any]) -> list[str]:
    """Protocol names in an order where every dependency comes first; among the protocols
    ready at each point the scenario's order wins, so scenarios without composed tokens
    build exactly as before. Raises graphlib.CycleError (args[1] is the cycle) if none."""
    specs = list(protocols)
    needs = dependencies(specs)
    TopologicalSorter(needs).prepare()  # raises CycleError naming the cycle
    order: list[str] = []
    built: set[str] = set()
    while len(order) < len(specs):
        name = next(p.name for p in specs if p.name not in built and needs[p.name] <= built)
        order.append(name)
        built.add(name)
    return order


def find_cycle(protocols: Iterable[Any]) -> list[str] | None:
    """A dependency cycle among `protocols` (names, first repeated last), or None."""
    try:
        build_order(protocols)
    except CycleError as exc:
        return list(exc.args[1])
    return None
