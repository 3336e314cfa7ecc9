"""Checkout: turns a cart into what the customer pays."""

from __future__ import annotations

from decimal import Decimal

from shop.models import Cart
from shop.pricing import TAX_RATE, Discount, apply_discount, round_money


def cart_total(cart: Cart, discount: Discount | None = None) -> Decimal:
    """The amount due for `cart`: subtotals, then the discount, then tax on taxable lines."""
    
