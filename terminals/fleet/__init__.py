"""A fleet of simulated terminals: canteen POS readers and top-up kiosks, built on
`terminals.client`, presenting `SoftCard`s and speaking only HTTP to a OneCard server.

No Django here, so the fleet can run on any PC that reaches the server. Everything it
needs comes in as plain data (`plan.FleetPlan`: the terminals' ids and secrets, the
cards' numbers, UIDs and keys); what the card office does during the run (losses,
top-ups, a subsidy, a price change) and the server's figures read back at the end go
through `plan.Office`, which the caller implements however it reaches the server.
`terminals/simulator.py` is the one that sets a fleet up in the database.
"""
