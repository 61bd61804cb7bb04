"""The steps: one module per step, the contract they share, and the one table that lists them."""
