"""Arbitrageurs: trade every AMM pool toward the off-chain reference prices when it pays gas.

They are what ties pool prices (and so pool-TWAP oracles and the liquidators' exit prices)
to the reference market, at the speed their capital and the gas price allow.
"""

from __future__ import annotations

import weakref

import mesa

from agents import event_kinds
from agents.host import Host
from agents.trading import Memo, Trade, capped, remembered_hedged_arbitrage
from protocols import names
from protocols.validation import check_amount

#: model -> the arbitrage memo its arbitrageurs share (`agents.trading.Memo`)
_MEMOS: weakref.WeakKeyDictionary[Host, Memo] = weakref.WeakKeyDictionary()


class Arbitrageur(mesa.Agent):
    """Holds inventory under ledger id f"arb:{unique_id}", funded at creation from outside
    (`world.fund`) with `capital_usd` split equally in USD across the world's traded assets at
    reference prices. Like a CEX-DEX arbitrageur it hedges every pool trade at once on the
    off-chain market (`world.trade_offchain`): it sells what it bought and buys back what it
    sold, so its inventory is restored and its profit is kept in the token it sold; where
    off-chain depth is finite the hedge moves the off-chain prices and the trade is sized
    for it (`agents.trading.best_hedged_arbitrage`). Its inventory caps the size of any
    single trade.

    Each round it visits the pools in an order shuffled by the model's RNG and makes, in each,
    the profit-maximising swap (`agents.trading.best_arbitrage`) scaled to its holdings of
    the token it sells, if the profit at reference prices exceeds this step's gas cost for
    `gas_units`. Several arbitrageurs compete through the model's shuffled activation order:
    the first to act closes the gap and the others find nothing left.
    """

    def __init__(self, model: Host, capital_usd: float, gas_units: float) -> None:
        capital_usd = check_amount("capital_usd", capital_usd)
        gas_units = check_amount("gas_units", gas_units)
        super().__init__(model)
        self.capital_usd, self.gas_units = capital_usd, gas_units
        self.holder = names.agent(names.ARBITRAGEUR, self.unique_id)
        # one memo per model: every arbitrageur of the round asks about the same pools
        self.memo: Memo = _MEMOS.setdefault(model, {})
        world = model.world
        traded = world.traded_assets  # base assets, then bridges' wrapped assets
        for asset in traded:
            world.fund(self.holder, asset, self.capital_usd / len(traded) / world.usd(asset))

    def step(self) -> None:
        world = self.model.world
        gas_usd = self.model.gas_cost_usd(self.gas_units)
        names = list(world.pools)
        self.model.random.shuffle(names)
        for name in names:
            trade = self._affordable(
                remembered_hedged_arbitrage(world.pools[name], world, self.memo, gas_usd))
            if trade is not None and trade.profit_usd > gas_usd:
                self._execute(name, trade, gas_usd)

    def _affordable(self, trade: Trade | None) -> Trade | None:
        if trade is None:
            return None
        return capped(trade, self.model.world.ledger.balance_of(self.holder, trade.token_in))

    def _execute(self, name: str, trade: Trade, gas_usd: float) -> None:
        world = self.model.world
        received = trade.pool.swap_exact_in(
            self.holder, trade.token_in, trade.token_out, trade.amount_in, trade.amount_out
        )
        world.trade_offchain(self.holder, trade.token_out, received, trade.token_in)
        self.model.record(
            event_kinds.ARBITRAGE,
            actor=self.holder,
            pool=name,
            token_in=trade.token_in,
            token_out=trade.token_out,
            amount_in=trade.amount_in,
            amount_out=trade.amount_out,
            profit_usd=trade.profit_usd,
            gas_usd=gas_usd,
        )
