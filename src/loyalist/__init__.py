"""Loyalist: turn a retailer's own data into customer and promotion decisions."""

__version__ = "0.1.0"

__all__ = ["__version__"]
