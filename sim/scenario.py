"""Load and validate scenario files; every problem becomes one line naming its field.

`load_scenario(path)` reads TOML, validates it against `sim.schema.Scenario`, checks the
cross-references between sections (pools name known assets, shocks name known protocols)
and raises a single `ConfigError` listing every problem as
`protocols[2].liquidation_threshold: must be <= 1, got 1.2` - never a traceback from inside.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from protocols import names
from protocols.errors import ConfigError
from protocols.names import is_composed
from sim.composition import LP_KINDS, find_cycle, token_issuer
from sim.schema import (
    PROTOCOL_KINDS,
    SHOCK_KINDS,
    Lending,
    LiquidityWithdrawal,
    OptionVault,
    OracleFreeze,
    ParameterChange,
    Reserve,
    Scenario,
)

_UNION_TAGS = frozenset(PROTOCOL_KINDS + SHOCK_KINDS)
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, resolve (`extends`, `[overrides]`), override (dotted paths) and validate a
    scenario file."""
    raw = read_scenario(path)
    if overrides:
        raw = apply_overrides(raw, overrides)
    return parse_scenario(raw, source=str(path))


def read_scenario(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw scenario dict of a file, with its base file merged in.

    A file may start from another: `extends = "baseline.toml"` (relative to the file) takes
    the base's tables and deep-merges this file's over them (tables merge key by key; arrays
    and values replace), then applies this file's `[overrides]` table of dotted paths
    (`"protocols[aave-main].reserves.GOV.liquidation_threshold" = 0.5`), then adds this
    file's `[[append.LIST]]` items to those lists (e.g. a governance action to `shocks`). A
    governance proposal is usually such a diff, so it is written as one.
    """
    path = Path(path)
    raw = read_toml(path, "scenario")
    base = raw.pop("extends", None)
    overrides = raw.pop("overrides", {})
    appends = raw.pop("append", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: overrides: must be a table of dotted paths")
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: extends: must be a file name, got {base!r}")
        base_path = (path.parent / base).resolve()
        if base_path in _seen or base_path == path.resolve():
            raise ConfigError(f"{path}: extends: {base!r} extends itself (a cycle)")
        try:
            parent = read_scenario(base_path, (*_seen, path.resolve()))
        except ConfigError as exc:
            raise ConfigError(f"{path}: extends: {exc}") from None
        raw = deep_merge(parent, raw)
    raw = apply_overrides(raw, overrides, source=str(path)) if overrides else raw
    return apply_appends(raw, appends, source=str(path)) if appends else raw


def apply_appends(
    raw: Mapping[str, Any], appends: Mapping[str, Any], source: str = "scenario"
) -> dict[str, Any]:
    """Return a copy of `raw` with the items of `appends` (`[[append.shocks]]`: top-level
    list name -> items) added at the end of those lists - how a proposal adds a governance
    action to a baseline's shocks without restating them."""
    if not isinstance(appends, Mapping):
        raise ConfigError(f"{source}: append: must be a table of lists, e.g. [[append.shocks]]")
    result = dict(raw)
    for key, items in appends.items():
        current = result.get(key, [])
        if not isinstance(items, list) or not isinstance(current, list):
            raise ConfigError(f"{source}: append.{key}: must add a list to a list")
        result[key] = [*current, *items]
    return result


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`: tables merge recursively, anything else in `top` replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_scenario(raw: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (parsed TOML)."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_report(source, [_describe(e) for e in exc.errors()])) from None
    problems = list(_reference_problems(scenario))
    if problems:
        raise ConfigError(_report(source, problems))
    return scenario


def apply_overrides(
    raw: Mapping[str, Any], overrides: Mapping[str, Any], source: str | None = None
) -> dict[str, Any]:
    """Return a copy of `raw` with dotted paths set to new values.

    A list item is addressed by index (`protocols.2.fee`, `protocols[2].fee`) or by its
    `name` / `symbol` (`protocols.aave-main.close_factor`, `assets[USDC.e].sigma`; brackets
    keep dots inside a name). A missing list item is an error; a missing table key is
    created (the schema then says whether it is allowed).
    """
    import copy

    result = copy.deepcopy(dict(raw))
    prefix = f"{source}: " if source else ""
    for dotted, value in overrides.items():
        keys = split_path(dotted)
        node: Any = result
        for depth, key in enumerate(keys):
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                index = _list_index(node, key)
                if index is None:
                    raise ConfigError(f"{prefix}{dotted}: no list item {key!r} at {where}")
                key = index
            elif not isinstance(node, dict):
                raise ConfigError(f"{prefix}{dotted}: {where} is not a table")
            if depth == len(keys) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and key not in node:
                    node[key] = {}
                node = node[key]
    return result


def split_path(dotted: str) -> list[str]:
    """`protocols[aave.v3].reserves.GOV` -> ['protocols', 'aave.v3', 'reserves', 'GOV']."""
    keys: list[str] = []
    rest = dotted
    while rest:
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise ConfigError(f"{dotted}: unclosed '[' in the path")
            keys.append(rest[1:close])
            rest = rest[close + 1 :].removeprefix(".")
        else:
            cut = min((i for i in (rest.find("."), rest.find("[")) if i >= 0), default=len(rest))
            keys.append(rest[:cut])
            rest = rest[cut:].removeprefix(".")
    if not keys or any(k == "" for k in keys):
        raise ConfigError(f"{dotted}: not a dotted path")
    return keys


def _list_index(items: list[Any], key: str) -> int | None:
    if key.isdigit():
        return int(key) if int(key) < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and key in (item.get("name"), item.get("symbol")):
            return index
    return None


# -- error formatting ----------------------------------------------------------------------
def _report(source: str, problems: list[str]) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{source}: {len(problems)} {noun}:\n" + "\n".join(f"  {p}" for p in problems)


def _path(loc: Iterable[Any]) -> str:
    parts: list[str] = []
    previous: Any = None
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        elif item in _UNION_TAGS and isinstance(previous, int):
            pass  # pydantic's discriminated-union branch name is not part of the user's path
        else:
            parts.append(str(item))
        previous = item
    return ".".join(parts)


def _describe(error: Mapping[str, Any]) -> str:
    path = _path(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in _BOUNDS:
        key, symbol = _BOUNDS[kind]
        reason = f"must be {symbol} {ctx[key]}, got {value!r}"
    elif kind == "missing":
        reason = "is required"
    elif kind == "extra_forbidden":
        reason = "unknown field (check its spelling against the documented schema)"
    elif kind == "union_tag_invalid":
        reason = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        reason = "needs a 'kind' field"
    elif kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        wanted = "an integer" if kind.startswith("int") else "a number"
        reason = f"must be {wanted}, got {value!r}"
    elif kind == "literal_error":
        reason = f"must be one of {ctx.get('expected')}, got {value!r}"
    elif kind == "string_pattern_mismatch":
        reason = f"{value!r} is not a valid name (letters, digits, '.', '_', '-')"
    elif kind in ("too_short", "too_long"):
        reason = f"{error['msg'].lower()}"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        field, sep, rest = message.partition(": ")
        if sep and field.isidentifier():
            path, reason = f"{path}.{field}" if path else field, rest
        else:
            reason = message
    else:
        reason = f"{error['msg']}, got {value!r}"
    return f"{path or '(top level)'}: {reason}"


# -- cross-references ----------------------------------------------------------------------
def _reference_problems(s: Scenario) -> Iterable[str]:
    assets = {a.symbol for a in s.assets}
    names = [p.name for p in s.protocols]
    by_name = {p.name: p for p in s.protocols}

    seen: set[str] = set()
    for i, asset in enumerate(s.assets):
        if asset.symbol in seen:
            yield f"assets[{i}].symbol: duplicate asset {asset.symbol!r}"
        seen.add(asset.symbol)
        risky = {a.symbol for a in s.assets if a.kind == "risky"}
        if asset.kind == "pegged" and asset.peg_to != "USD" and asset.peg_to not in risky:
            yield f"assets[{i}].peg_to: must be 'USD' or a risky asset, got {asset.peg_to!r}"
        if s.market.process == "historical" and asset.data is None and asset.kind == "risky":
            yield f"assets[{i}].data: a historical market needs a data file for each risky asset"
    yield from _correlation_problems(s)

    for i, name in enumerate(names):
        if names.index(name) != i:
            yield f"protocols[{i}].name: duplicate protocol name {name!r}"
    for i, p in enumerate(s.protocols):
        where = f"protocols[{i}]"
        tokens = (
            list(p.reserves) if isinstance(p, Lending)
            else [p.underlying, p.quote] if isinstance(p, OptionVault)
            else p.tokens
        )
        for j, token in enumerate(tokens):
            if isinstance(p, Lending) and is_composed(token):
                yield from _composed_reserve_problems(where, p, token, by_name)
            elif token not in assets:
                field = "reserves" if isinstance(p, Lending) else "tokens"
                yield f"{where}.{field}[{j}]: unknown asset {token!r}"
        if len(set(tokens)) != len(tokens):
            yield f"{where}.tokens: a token is listed twice"
        if isinstance(p, Lending):
            for symbol, reserve in p.reserves.items():
                pool = reserve.oracle.pool
                if pool is not None and pool not in by_name:
                    yield f"{where}.reserves.{symbol}.oracle.pool: unknown protocol {pool!r}"
                elif pool is not None and symbol not in getattr(by_name[pool], "tokens", []):
                    yield (f"{where}.reserves.{symbol}.oracle.pool: pool {pool!r} does not "
                           f"trade {symbol}")

    cycle = find_cycle(s.protocols)
    if cycle:
        i = names.index(cycle[0])
        yield (f"protocols[{i}].reserves: dependency cycle {' -> '.join(cycle)} (each accepts "
               "the next one's token, so none can be built first)")

    for i, cohort in enumerate(s.agents.borrowers):
        where = f"agents.borrowers[{i}]"
        market = by_name.get(cohort.market)
        if not isinstance(market, Lending):
            yield f"{where}.market: no lending market named {cohort.market!r}"
            continue
        coll = market.reserves.get(cohort.collateral)
        if coll is None or coll.liquidation_threshold == 0:
            yield f"{where}.collateral: {cohort.collateral!r} is not collateral in {market.name}"
        debt = market.reserves.get(cohort.debt)
        if debt is None or not debt.borrowable:
            yield f"{where}.debt: {cohort.debt!r} cannot be borrowed in {market.name}"

    for symbol in s.treasury.holdings:
        if symbol not in assets:
            yield f"treasury.holdings.{symbol}: unknown asset {symbol!r}"
    if s.treasury.opex_usd_per_month > 0 and s.treasury.opex_token not in assets:
        yield f"treasury.opex_token: unknown asset {s.treasury.opex_token!r}"
    yield from _policy_problems(s, assets, by_name)

    for i, shock in enumerate(s.shocks):
        where = f"shocks[{i}]"
        if shock.step > s.steps:
            yield f"{where}.step: must be <= steps ({s.steps}), got {shock.step}"
        asset = getattr(shock, "asset", None)
        if asset is not None and asset not in assets:
            yield f"{where}.asset: unknown asset {asset!r}"
        protocol = getattr(shock, "protocol", None) or getattr(shock, "market", None)
        field = "protocol" if hasattr(shock, "protocol") else "market"
        if protocol is not None and protocol not in by_name:
            yield f"{where}.{field}: unknown protocol {protocol!r}"
        elif isinstance(shock, LiquidityWithdrawal) and isinstance(by_name[protocol], OptionVault):
            yield f"{where}.protocol: liquidity withdrawals apply to pools and lending markets"
        elif isinstance(shock, OracleFreeze | ParameterChange) and protocol is not None and (
            not isinstance(by_name[protocol], Lending)
        ):
            yield f"{where}.market: {protocol!r} is not a lending market"
        elif isinstance(shock, ParameterChange):
            yield from _parameter_change_problems(where, shock, by_name[protocol])


def _parameter_change_problems(
    where: str, change: ParameterChange, market: Lending
) -> Iterable[str]:
    """The reserve must exist and its changed parameters obey the listing rules."""
    reserve = market.reserves.get(change.reserve)
    if reserve is None:
        yield f"{where}.reserve: {change.reserve!r} is not a reserve of {market.name}"
        return
    if not change.changes():
        yield f"{where}: names no parameter to change"
    try:
        Reserve.model_validate({**reserve.model_dump(), **change.changes()})
    except ValidationError as exc:
        for error in exc.errors():
            yield f"{where}.{_describe(error)}"


def _composed_reserve_problems(
    where: str, market: Lending, token: str, by_name: Mapping[str, Any]
) -> Iterable[str]:
    """A reserve that is another protocol's token: it must exist, not be the market's own,
    and be collateral only (borrowing receipt tokens is not modelled)."""
    issuer, problem = token_issuer(token, by_name)
    field = f"{where}.reserves.{token}"
    if problem:
        yield f"{field}: {problem}"
    elif issuer == market.name:
        yield f"{field}: a market cannot accept its own receipt token"
    elif market.reserves[token].borrowable:
        yield f"{field}.borrowable: a protocol-issued token can only be collateral; set false"
    elif market.reserves[token].oracle.source != "reference":
        yield (f"{field}.oracle.source: a protocol-issued token is priced from its issuer "
               "(source 'reference')")


def _correlation_problems(s: Scenario) -> Iterable[str]:
    corr = s.market.correlation
    if isinstance(corr, float | int):
        return
    n = sum(a.kind == "risky" for a in s.assets)
    if len(corr) != n or any(len(row) != n for row in corr):
        yield f"market.correlation: must be a {n}x{n} matrix (one row per risky asset)"
        return
    for i in range(n):
        if corr[i][i] != 1.0:
            yield f"market.correlation[{i}][{i}]: diagonal must be 1, got {corr[i][i]}"
        for j in range(n):
            if not math.isclose(corr[i][j], corr[j][i]) or abs(corr[i][j]) > 1:
                yield f"market.correlation[{i}][{j}]: must be symmetric and within [-1, 1]"
                return


def _policy_problems(s: Scenario, assets: set[str], by_name: Mapping[str, Any]) -> Iterable[str]:
    """The treasury policy names assets and venue tokens that exist, and can borrow."""
    policy, where = s.treasury.policy, "treasury.policy"
    venues = {names.lp_token(name) for name, p in by_name.items() if p.kind in LP_KINDS}
    venues |= {names.v3_positions(name) for name, p in by_name.items() if p.kind == "uniswap_v3"}
    venues |= {names.vault_shares(name) for name, p in by_name.items()
               if isinstance(p, OptionVault)}
    venues |= {names.receipt(name, asset) for name, p in by_name.items() if isinstance(p, Lending)
               for asset in p.reserves}
    for key in policy.weights:
        if key not in assets and key not in venues:
            yield (f"{where}.weights.{key}: not an asset or venue token (assets, "
                   f"'<market>:a<ASSET>', '<pool>:LP', '<v3 pool>:v3', '<vault>:shares')")
    for i, symbol in enumerate(policy.assets):
        if symbol not in assets:
            yield f"{where}.assets[{i}]: unknown asset {symbol!r}"
    if policy.kind == "delta_hedge" and policy.hedge_asset not in assets:
        yield f"{where}.hedge_asset: unknown asset {policy.hedge_asset!r}"
    if policy.safe_asset is not None and policy.safe_asset not in assets:
        yield f"{where}.safe_asset: unknown asset {policy.safe_asset!r}"
    elif policy.safe_asset is None and policy.kind != "static" and (
        s.treasury.opex_token not in assets
    ):
        yield (f"{where}.safe_asset: defaults to opex_token {s.treasury.opex_token!r}, "
               "not an asset: name one")
    borrows = set(policy.borrow) | (
        {policy.hedge_asset} if policy.kind == "delta_hedge" and policy.hedge_with == "borrow"
        else set()
    )
    for symbol in sorted(borrows):
        field = f"borrow.{symbol}" if symbol in policy.borrow else "hedge_with"
        if symbol not in assets:
            yield f"{where}.{field}: unknown asset {symbol!r}"
        elif not any(
            isinstance(p, Lending) and symbol in p.reserves and p.reserves[symbol].borrowable
            and policy.collateral in p.reserves
            and p.reserves[policy.collateral].liquidation_threshold > 0
            for p in by_name.values()
        ):
            yield (f"{where}.{field}: no lending market lends {symbol} against collateral "
                   f"{policy.collateral!r}")
