"""Ledger names: every token name a protocol builds parses back to its issuer and kind."""

import pytest

from protocols import names


@pytest.mark.parametrize(("token", "parsed"), [
    (names.receipt("aave", "USDC"), ("aave", names.RECEIPT, "USDC")),
    # a market accepting another market's receipt: the asset keeps its own colon
    (names.receipt("aave-b", "aave-a:aUSDC"), ("aave-b", names.RECEIPT, "aave-a:aUSDC")),
    (names.lp_token("univ2-ETH-USDC"), ("univ2-ETH-USDC", names.LP, None)),
    (names.vault_shares("eth-cc"), ("eth-cc", names.SHARES, None)),
    (names.vault_option("eth-cc"), ("eth-cc", names.OPTION, None)),
    (names.v3_positions("univ3"), ("univ3", names.V3, None)),
    ("aave:collateral", ("aave", None, None)),  # a sub-account, not a token
])
def test_protocol_token_names_parse_back(token, parsed):
    assert names.is_composed(token)
    assert tuple(names.parse(token)) == parsed


def test_base_assets_are_not_composed():
    assert names.parse("ETH") is None and not names.is_composed("stETH")
    assert names.issuer("ETH") == "issuer:ETH"


def test_agents_holder_ids_map_to_their_graph_group():
    assert names.agent(names.LIQUIDATOR, 5) == "liq:5"
    assert names.AGENT_GROUPS[names.LIQUIDATOR] == "liquidators"
    assert names.borrower_group("aave") == "borrowers:aave"
