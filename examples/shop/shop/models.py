"""The shop's data: products, the lines of a cart, and the cart itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    """Something the shop sells."""

    sku: str
    name: str
    unit_price: Decimal
    taxable: bool = True


@dataclass
class LineItem:
    """A product and how many of it are in a cart."""

    product: Product
    quantity: int = 1

    def subtotal(self) -> Decimal:
        """The price of this line before discounts and tax."""
        return self.product.unit_price * self.quantity


@dataclass
class Cart:
    """The products a customer is about to buy."""

    customer_id: str
    items: list[LineItem] = field(default_factory=list)

    def add(self, product: Product, quantity: int = 1) -> LineItem:
        """Adds `quantity` of `product`, merging with an existing line for it."""
        for item in self.items:
            if item.product.sku == product.sku:
                item.quantity += quantity
                return item
        item = LineItem(product, quantity)
        self.items.append(item)
        return item

    def is_empty(self) -> bool:
        return not self.items
