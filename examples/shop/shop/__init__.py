"""A small shop: products, carts, discounts and checkout."""

from shop.models import Cart, LineItem, Product
from shop.pricing import Discount, apply_discount

__all__ = ["Cart", "LineItem", "Product", "Discount", "apply_discount"]
