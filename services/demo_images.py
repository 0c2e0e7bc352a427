"""Product pictures for the demo shop, drawn with Pillow (no downloads)."""

from __future__ import annotations

import colorsys
import hashlib
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont


def product_picture(title: str, size: int = 480) -> BytesIO:
    """A soft two-tone PNG with a shape and the product's initials, seeded by its title."""
    seed = hashlib.sha256(title.encode()).digest()
    hue = seed[0] / 255
    top = tuple(int(c * 255) for c in colorsys.hls_to_rgb(hue, 0.82, 0.55))
    bottom = tuple(int(c * 255) for c in colorsys.hls_to_rgb((hue + 0.08) % 1, 0.62, 0.5))
    image = Image.new("RGB", (size, size), top)
    draw = ImageDraw.Draw(image)
    for y in range(size):
        blend = y / size
        draw.line([(0, y), (size, y)], fill=tuple(int(t + (b - t) * blend) for t, b in zip(top, bottom, strict=True)))
    accent = tuple(int(c * 255) for c in colorsys.hls_to_rgb((hue + 0.5) % 1, 0.45, 0.45))
    margin = size // 5
    box = (margin, margin, size - margin, size - margin)
    shape = seed[1] % 3
    if shape == 0:
        draw.ellipse(box, fill=accent)
    elif shape == 1:
        draw.rounded_rectangle(box, radius=size // 10, fill=accent)
    else:
        draw.polygon([(size // 2, margin), (size - margin, size - margin), (margin, size - margin)], fill=accent)
    initials = "".join(word[0] for word in title.split()[:2]).upper()
    font = ImageFont.load_default(size=size // 6)
    draw.text((size // 2, size // 2), initials, fill="white", font=font, anchor="mm")
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    buffer.seek(0)
    return buffer
