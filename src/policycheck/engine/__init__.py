"""The rule engine behind a small protocol; durable_rules specifics live in ``durable``."""
