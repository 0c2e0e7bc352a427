"""Money: integer cents in, text out; and parsing what people type."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
#: The largest amount anyone may type (cents are stored in a 32-bit INTEGER).
MAX_AMOUNT = Decimal("1000000.00")


def format_money(cents: int, currency: str = "USD") -> str:
    """`1250, "USD"` -> `$12.50`; unknown currencies get their code after the amount."""
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def parse_money(text: str) -> int:
    """`"12.5"` -> 1250 cents; raises ValueError for anything that is not a plain amount."""
    cleaned = text.strip().replace(",", "")
    for symbol in SYMBOLS.values():
        cleaned = cleaned.removeprefix(symbol)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter an amount like 12.50.") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("Enter an amount of zero or more.")
    if amount > MAX_AMOUNT:
        raise ValueError(f"Enter an amount up to {MAX_AMOUNT:,}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("Use at most two decimal places.")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
