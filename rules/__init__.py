"""The pure brain of peerpulse: rules, interaction inference, scoring, recommendations.

Nothing here does I/O, reads the clock or touches the network: records and an
explicit ``now`` go in, plain data comes out. It imports only
``connectors.records``.
"""
