"""Public shop pages: the shop index, a shop, a product, product images."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, send_from_directory

from extensions import db
from models import Product, Shop
from services import catalog
from services.images import upload_folder
from web import render

bp = Blueprint("shop", __name__)


@bp.get("/shop/")
def index():
    return render("shop/index.html", shops=catalog.shops_with_products(), products=catalog.newest_products())


@bp.get("/shop/<slug>")
def shop_page(slug: str):
    shop = db.first_or_404(sa.select(Shop).where(Shop.slug == slug))
    return render("shop/shop.html", shop=shop, products=catalog.shop_products(shop))


@bp.get("/products/<int:product_id>")
def product_page(product_id: int):
    product = db.get_or_404(Product, product_id)
    return render("shop/product.html", product=product)


@bp.get("/media/products/<path:name>")
def product_image(name: str):
    response = send_from_directory(upload_folder(), name, max_age=86400)
    # Uploaded files are only ever shown as images, never sniffed into something else.
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
