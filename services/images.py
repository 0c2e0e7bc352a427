"""Product images: checked by decoding them, stored under the instance folder."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import IO

from flask import current_app
from PIL import Image, UnidentifiedImageError

#: What Pillow reports for the formats we accept, and the extension we store them under.
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PIXELS = 40_000_000


class ImageRejected(ValueError):
    pass


def _readable_size(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size // 1024} kB"


def upload_folder() -> Path:
    folder = Path(current_app.instance_path) / "uploads" / "products"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store_product_image(stream: IO[bytes]) -> str:
    """Check the upload is a real JPEG, PNG or WebP within the size cap; store it; return its file name.

    The format comes from decoding the file, never from its name or the browser's content type.
    """
    limit = current_app.config["PRODUCT_IMAGE_MAX_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageRejected(f"The image is larger than {_readable_size(limit)}.")
    if not data:
        raise ImageRejected("The image file is empty.")
    from io import BytesIO

    try:
        with Image.open(BytesIO(data)) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ImageRejected("That file is not a JPEG, PNG or WebP image.") from None
    if image_format not in ALLOWED_FORMATS:
        raise ImageRejected("Only JPEG, PNG and WebP images are accepted.")
    if width * height > MAX_PIXELS:
        raise ImageRejected("The image has too many pixels.")
    name = f"{secrets.token_hex(12)}.{ALLOWED_FORMATS[image_format]}"
    (upload_folder() / name).write_bytes(data)
    return name


def delete_product_image(name: str | None) -> None:
    if name:
        (upload_folder() / name).unlink(missing_ok=True)
