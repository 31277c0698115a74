"""Extra CLI commands, one module per workflow; ``cli.py`` registers them."""
