"""Pixel comparison of two screenshots (pure: images in, numbers and an image out; no I/O).

A pixel differs when any channel differs by more than `threshold` x 255. The diff image is the baseline,
faded to grey, with every differing pixel painted red, so a reader sees where the change is on the page.
Screenshots of different sizes are compared over the larger size (the missing area counts as changed) and the
comparison fails with the sizes as its reason: a page that grew is a layout change too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

RED = (255, 0, 0)


@dataclass(frozen=True)
class PixelDiff:
    changed: int  # differing pixels
    total: int
    size_mismatch: str  # "" or "baseline 1280x800, PR 1280x900"
    image: "Image.Image"  # the diff image

    @property
    def ratio(self) -> float:
        return self.changed / self.total if self.total else 0.0

    def verdict(self, max_ratio: float) -> tuple[str, str]:
        """(passed|failed, reason)."""
        share = f"{self.changed} of {self.total} pixels ({self.ratio:.3%}) differ"
        if self.size_mismatch:
            return "failed", f"size differs ({self.size_mismatch}); {share}"
        if self.ratio > max_ratio:
            return "failed", f"{share}, more than the allowed {max_ratio:.3%}"
        return "passed", share if self.changed else "identical"


def compare(baseline: "Image.Image", pr: "Image.Image", threshold: float = 0.1) -> PixelDiff:
    from PIL import Image, ImageChops

    mismatch = ""
    if baseline.size != pr.size:
        mismatch = f"baseline {baseline.size[0]}x{baseline.size[1]}, PR {pr.size[0]}x{pr.size[1]}"
    size = (max(baseline.size[0], pr.size[0]), max(baseline.size[1], pr.size[1]))
    base = _padded(baseline, size)
    new = _padded(pr, size)
    difference = ImageChops.difference(base, new)
    red, green, blue = difference.split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    cut = int(round(threshold * 255))
    mask = strongest.point(lambda value: 255 if value > cut else 0)
    outside = _outside(baseline.size, pr.size, size)
    if outside is not None:
        mask = ImageChops.lighter(mask, outside)
    changed = mask.histogram()[255]
    faded = Image.blend(base.convert("L").convert("RGB"), Image.new("RGB", size, (255, 255, 255)), 0.6)
    faded.paste(Image.new("RGB", size, RED), mask=mask)
    return PixelDiff(changed, size[0] * size[1], mismatch, faded)


def _padded(image: "Image.Image", size: tuple[int, int]) -> "Image.Image":
    from PIL import Image

    rgb = image.convert("RGB")
    if rgb.size == size:
        return rgb
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(rgb, (0, 0))
    return canvas


def _outside(a: tuple[int, int], b: tuple[int, int], size: tuple[int, int]) -> "Image.Image | None":
    """A mask of the area only one of the two images covers (white there), or None when sizes match."""
    if a == b:
        return None
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 255)
    draw = ImageDraw.Draw(mask)
    both = (min(a[0], b[0]), min(a[1], b[1]))
    draw.rectangle((0, 0, both[0] - 1, both[1] - 1), fill=0)
    return mask
