"""Mesa agents that decide: the DAO treasury allocator and its policies, arbitrageurs,
liquidity providers, liquidators and borrower cohorts. They act through `protocols/`."""
