"""Warehouse sinks, chosen by the --warehouse option."""
