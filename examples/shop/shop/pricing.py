"""Discounts and tax."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TAX_RATE = Decimal("0.20")


@dataclass(frozen=True)
class Discount:
    """A percentage off, for orders of at least `minimum`."""

    code: str
    percent: Decimal
    minimum: Decimal = Decimal("0")

    def applies_to(self, amount: Decimal) -> bool:
        return amount >= self.minimum


def apply_discount(amount: Decimal, discount: Discount | None) -> Decimal:
    """The amount after `discount`, if it applies."""
    if discount is None or not discount.applies_to(amount):
        return amount
    return amount * (Decimal(100) - discount.percent) / Decimal(100)


def round_money(amount: Decimal) -> Decimal:
    """Rounds to whole cents, halves up."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
