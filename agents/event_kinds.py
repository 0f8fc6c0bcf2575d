"""The event log's vocabulary: every kind of event the simulation records, in one place.

An event is a dict `{"step": t, "kind": KIND, **fields}`, appended by the host's
`record(kind, **fields)` and written to `events.parquet`. Two fields name who or what:
- `actor`: the agent that acted, by its ledger holder id (`arb:3`, `liq:5`, `lp:0`,
  `borrowers:7`, `treasury`) - on every agent's event;
- `node`: the dependency-graph node a world event concerns (a protocol, `issuer:DAI`,
  `treasury`, `gas`) - on shocks, supplier runs, vault rolls and distress transitions.
A treasury policy may log events of its own kinds (`Decision.events`); they carry `actor`.
"""

# -- agents' events (field `actor`) --------------------------------------------------------
ARBITRAGE = "arbitrage"
LIQUIDATION = "liquidation"
BORROWERS = "borrowers"
LP_FLIGHT = "lp_flight"
LP_RETURN = "lp_return"
LP_WITHDRAWAL = "lp_withdrawal"
#: a v3 position burned and minted again around the price (agents.ranges): pool, position,
#: new_position, tick_lower_old / tick_upper_old, tick_lower / tick_upper, swap_in /
#: swap_out (units), swap_cost_usd, gas_usd, value_usd (the new position's), reason
#: (out_of_range, band)
RECENTRE = "recentre"
REBALANCE = "rebalance"
ALLOCATOR_FAILED = "allocator_failed"
TREASURY_BORROW = "treasury_borrow"
TREASURY_REPAY = "treasury_repay"
#: the treasury selling risk assets because its runway fell below the floor
FORCED_SALE = "forced_sale"
#: one tranche of a scheduled treasury action (`[[treasury.actions]]`,
#: agents.treasury_actions): index, action, asset, tranche, wanted / done (units and USD),
#: done_total / done_total_usd, remaining / remaining_usd, final
TREASURY_ACTION = "treasury_action"
#: the treasury keeping its collateral buffer (agents.treasury_buffer): market, asset,
#: amount (units), usd (reference prices), hf_before, hf_after (oracle prices)
COLLATERAL_TOPUP = "collateral_topup"
DEBT_REPAID_FOR_BUFFER = "debt_repaid_for_buffer"
COLLATERAL_WITHDRAWN_FOR_BUFFER = "collateral_withdrawn_for_buffer"
#: delta_hedge cutting its vault shares to hold gamma / vega within budget
#: (agents.policies.hedging): gamma_share, vega_share (shares of NAV), keep, vaults
GREEKS_BUDGET = "greeks_budget"
#: the `regime` policy entering or leaving stress (agents.policies.regime): prob (the
#: basket's filtered stress probability), state ("stress" / "calm"), risky_share (of the
#: sleeve, from now on)
REGIME_SWITCH = "regime_switch"

# -- world events (field `node`) -----------------------------------------------------------
SHOCK = "shock"
SHOCK_END = "shock_end"
SUPPLIER_RUN = "supplier_run"
VAULT_ROLL = "vault_roll"
#: a bridge crossing completed (protocols.bridge): node (the bridge), holder, direction
#: ("mint" or "release"), amount (units sent), delivered (units received), started (step)
BRIDGE_TRANSFER = "bridge_transfer"
#: a node's distress / recovery (sim.distress): node, cause, value, since (the step the
#: cause began, or the recovery's leave threshold held from)
DISTRESS = "distress"
RECOVERED = "recovered"
#: a new distress's link in the chain (sim.cascade): node, parent, channel, exposure_usd,
#: depth, since
CONTAGION = "contagion"
#: the distress transitions: the event log of the spread
SPREAD = (DISTRESS, RECOVERED)
