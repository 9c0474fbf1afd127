"""Draw the Peercoach Teams icons: ``color.png`` (192x192) and ``outline.png`` (32x32, white on transparent).

The symbol is two people side by side (head and shoulders) joined by an arc above them: two peers and
the link the program makes between them. Shapes are drawn as masks at 16x resolution and box-filtered
down, so edges are anti-aliased through alpha only; the outline icon stays pure white (RGB 255,255,255)
at every pixel, as Teams requires.

Run from the repository root: ``/tmp/probe/bin/python manifest/make_icons.py`` (needs Pillow, a dev
dependency); the PNGs are checked in, so this runs only when the design changes.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SUPERSAMPLE = 16
# Background of the color icon; keep equal to accentColor in manifest.json.
BACKGROUND = (15, 110, 110)  # #0F6E6E
LEFT_PERSON = (255, 255, 255)
RIGHT_PERSON = (167, 243, 208)  # mint, so the two peers read as two people
ARC = (251, 191, 36)  # amber: the connection


def _person(size: int, cx: float, cy: float, unit: float, inflate: float = 0.0) -> Image.Image:
    """Mask of one head-and-shoulders figure centred at (cx, cy), ``unit`` = symbol box size in px.

    ``inflate`` (px) grows every shape by that much: the grown figure is the gap cut around it.
    """
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    head_r = 0.13 * unit + inflate
    head_cy = cy - 0.12 * unit
    draw.ellipse((cx - head_r, head_cy - head_r, cx + head_r, head_cy + head_r), fill=255)
    # Shoulders: the top half of an ellipse, cut flat at the bottom of the symbol box.
    sw, sh = 0.27 * unit + inflate, 0.26 * unit + inflate
    top = cy + 0.05 * unit - inflate
    floor = cy + 0.31 * unit
    draw.chord((cx - sw, top, cx + sw, top + 2 * sh), start=180, end=360, fill=255)
    draw.rectangle((0, floor, size, size), fill=0)
    return mask


def _arc(size: int, box: tuple[float, float, float, float], width: float) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).arc(box, start=200, end=340, fill=255, width=max(1, int(width)))
    return mask


def symbol_masks(size: int, margin: float) -> tuple[Image.Image, Image.Image, Image.Image]:
    """(left person, right person, arc) masks for a square canvas of ``size`` px at full resolution."""
    unit = size * (1 - 2 * margin)
    origin = size * margin
    cy = origin + 0.62 * unit
    lx, rx = origin + 0.30 * unit, origin + 0.70 * unit
    left = _person(size, lx, cy, unit)
    right = _person(size, rx, cy, unit)
    # The right figure sits in front: cut a gap into the left one so both stay legible in one colour.
    left = ImageChops.subtract(left, _person(size, rx, cy, unit, inflate=0.05 * unit))
    arc_box = (origin + 0.12 * unit, origin + 0.0 * unit, origin + 0.88 * unit, origin + 0.70 * unit)
    arc = _arc(size, arc_box, 0.08 * unit)
    # Keep the arc off the heads.
    halo = ImageChops.lighter(
        _person(size, lx, cy, unit, inflate=0.05 * unit), _person(size, rx, cy, unit, inflate=0.05 * unit)
    )
    arc = ImageChops.subtract(arc, halo)
    return left, right, arc


def _downsample(mask: Image.Image, size: int) -> Image.Image:
    return mask.resize((size, size), Image.Resampling.BOX)


def color_icon(size: int = 192) -> Image.Image:
    big = size * SUPERSAMPLE
    left, right, arc = (_downsample(m, size) for m in symbol_masks(big, margin=0.2))
    image = Image.new("RGBA", (size, size), (*BACKGROUND, 255))
    for mask, colour in ((arc, ARC), (left, LEFT_PERSON), (right, RIGHT_PERSON)):
        image.paste(Image.new("RGBA", (size, size), (*colour, 255)), (0, 0), mask)
    return image


def outline_icon(size: int = 32) -> Image.Image:
    big = size * SUPERSAMPLE
    left, right, arc = symbol_masks(big, margin=0.03)
    alpha = _downsample(ImageChops.lighter(ImageChops.lighter(left, right), arc), size)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    image.putalpha(alpha)
    return image


def main(out_dir: Path = HERE) -> int:
    color_icon().save(out_dir / "color.png", optimize=True)
    outline_icon().save(out_dir / "outline.png", optimize=True)
    logger.info("wrote %s and %s", out_dir / "color.png", out_dir / "outline.png")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
