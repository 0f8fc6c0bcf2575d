"""Treasury allocation policies: eight built in, and any importable class by dotted path.

`resolve_policy(kind)` gives the class for a built-in name or a dotted path
("mypkg.policies.MyPolicy"); `make_policy(spec)` builds it from the scenario's
`treasury.policy` table: built-ins through their `from_spec(spec)`, user classes as
`cls(**spec.params)`. The interface is in `agents.policies.base` and README.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from agents.policies.base import Decision, Policy, TreasuryView, as_decision
from protocols.errors import ConfigError

#: Built-in policy kinds -> "module:Class" (imported lazily).
BUILTIN = {
    "static": "agents.policies.rebalancing:Static",
    "calendar": "agents.policies.rebalancing:Calendar",
    "threshold": "agents.policies.rebalancing:Threshold",
    "vol_target": "agents.policies.volatility:VolTarget",
    "cppi": "agents.policies.cppi:CPPI",
    "risk_parity": "agents.policies.volatility:RiskParity",
    "delta_hedge": "agents.policies.hedging:DeltaHedge",
    "regime": "agents.policies.regime:RegimeSwitch",
}

__all__ = ["BUILTIN", "Decision", "Policy", "TreasuryView", "as_decision", "make_policy",
           "resolve_policy"]


def resolve_policy(kind: str) -> type:
    """The policy class named by `kind`; ValueError (message without field name) otherwise."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"must be a policy name or a dotted path, got {kind!r}")
    if kind in BUILTIN:
        module_name, _, attr = BUILTIN[kind].partition(":")
    else:
        module_name, dot, attr = kind.rpartition(".")
        if not dot or not module_name or not attr:
            raise ValueError(
                f"unknown policy {kind!r}; expected one of {sorted(BUILTIN)} or a dotted "
                "path 'package.module.Class'"
            )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {kind!r}: {str(exc).lower()}") from None
    except Exception as exc:  # a user module that fails while importing
        raise ValueError(f"cannot import {kind!r}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ValueError(f"cannot import {kind!r}: module {module_name!r} has no {attr!r}")
    if not isinstance(cls, type) or not callable(getattr(cls, "decide", None)):
        raise ValueError(f"{kind!r} is not a class with a decide(view) method")
    return cls


def make_policy(spec: Any) -> Any:
    """An instance of the policy `spec` (a `spec.Policy`) names; ConfigError with the
    field path when its parameters are refused."""
    try:
        cls = resolve_policy(spec.kind)
    except ValueError as exc:
        raise ConfigError(f"treasury.policy.kind: {exc}") from None
    try:
        if spec.kind in BUILTIN:
            return cls.from_spec(spec)
        return cls(**spec.params)
    except ConfigError as exc:
        where = "treasury.policy" if spec.kind in BUILTIN else "treasury.policy.params"
        raise ConfigError(f"{where}.{exc}") from None
    except TypeError as exc:
        raise ConfigError(f"treasury.policy.params: {spec.kind}: {exc}") from None
