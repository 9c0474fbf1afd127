"""The checked-in icons meet Teams' rules and are what manifest/make_icons.py draws."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from teams_app.manifest_package import DEFAULT_SOURCE_DIR, png_size


def _load_make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icons", DEFAULT_SOURCE_DIR / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rgba_pixels(image: Image.Image) -> list[tuple[int, ...]]:
    raw = image.convert("RGBA").tobytes()
    return [tuple(raw[i : i + 4]) for i in range(0, len(raw), 4)]


def test_color_icon_is_a_192_px_square_png_with_an_opaque_background() -> None:
    with Image.open(DEFAULT_SOURCE_DIR / "color.png") as image:
        assert image.format == "PNG"
        assert image.size == (192, 192)
        pixels = _rgba_pixels(image)
    # Teams draws the color icon as is: no see-through corners.
    assert all(p[3] == 255 for p in pixels)
    assert len(set(pixels)) > 3, "the icon has a drawn symbol, not one flat colour"


def test_outline_icon_is_32_px_and_only_white_or_transparent() -> None:
    with Image.open(DEFAULT_SOURCE_DIR / "outline.png") as image:
        assert image.format == "PNG"
        assert image.size == (32, 32)
        assert image.mode == "RGBA"
        pixels = _rgba_pixels(image)
    offending = [(i % 32, i // 32, p) for i, p in enumerate(pixels) if p[3] != 0 and p[:3] != (255, 255, 255)]
    assert offending == [], f"non-white visible pixels (x, y, rgba): {offending[:5]}"
    opaque = sum(1 for p in pixels if p[3] == 255)
    transparent = sum(1 for p in pixels if p[3] == 0)
    assert opaque > 100 and transparent > 300, (opaque, transparent)


def test_checked_in_icons_are_what_make_icons_draws(tmp_path: Path) -> None:
    assert _load_make_icons().main(tmp_path) == 0
    for name in ("color.png", "outline.png"):
        with Image.open(tmp_path / name) as fresh, Image.open(DEFAULT_SOURCE_DIR / name) as checked_in:
            assert fresh.size == checked_in.size
            assert fresh.convert("RGBA").tobytes() == checked_in.convert("RGBA").tobytes(), name


def test_png_size_reads_the_header_and_rejects_other_files() -> None:
    assert png_size((DEFAULT_SOURCE_DIR / "color.png").read_bytes()) == (192, 192)
    assert png_size((DEFAULT_SOURCE_DIR / "outline.png").read_bytes()) == (32, 32)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + b"\0" * 30)
