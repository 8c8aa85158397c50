"""Cohorts (seeds 002 and 004): rule-based groups of stores, SKUs or combos (store x SKU series),
their membership generations, and the assignment of their open minority events to analysts.
Pure pandas like `stages/`: no Dagster import, no I/O, no clock."""
