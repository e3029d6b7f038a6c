"""The e-KTP front, drawn from the card data at 300 dpi and split into the printer's ribbon panels."""

from services.gateway.rendering.card import CardPicture, draw_card, render_panels, render_png

__all__ = ["CardPicture", "draw_card", "render_panels", "render_png"]
