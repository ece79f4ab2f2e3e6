"""Face boxes in the pixel space of one image, and their scaling between image sizes.

A box is half-open, as Pillow's crop boxes are: it covers the columns `left <= x < right`
and the rows `top <= y < bottom` of an image whose size it is always used with. The field
order (top, right, bottom, left) is dlib's and face_recognition's.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from wikiloom.errors import BadRequest

#: An image size: (width, height) in pixels.
Size = tuple[int, int]


def image_size(size: Any, what: str = "image size") -> Size:
    """Check that `size` is two positive integers (width, height) and return them."""
    try:
        width, height = (_integer(value, what) for value in size)
    except (TypeError, ValueError):
        raise BadRequest(f"{what} must be two integers (width, height), not {size!r}") from None
    if width <= 0 or height <= 0:
        raise BadRequest(f"{what} must be positive, not {width}×{height}")
    return width, height


def _integer(value: Any, what: str) -> int:
    """Return `value` as an int, refusing floats, strings and booleans."""
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise BadRequest(f"{what} must be an integer, not {value!r}") from None


def _round(value: float) -> int:
    """Round half up (Python's `round` rounds half to even)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True, slots=True)
class Box:
    """A face's box, in pixels of a named image space (half-open: right and bottom excluded).

    Parameters
    ----------
    top, right, bottom, left : int
        Edges in pixels, non-negative, with ``left < right`` and ``top < bottom``.

    Raises
    ------
    BadRequest
        When an edge is not an integer or is negative, or when the box is empty.
    """

    top: int
    right: int
    bottom: int
    left: int

    def __post_init__(self) -> None:
        for name in ("top", "right", "bottom", "left"):
            value = _integer(getattr(self, name), f"box {name}")
            if value < 0:
                raise BadRequest(f"box {name} must not be negative, not {value}")
            object.__setattr__(self, name, value)
        if self.left >= self.right:
            raise BadRequest(f"box left ({self.left}) must be less than right ({self.right})")
        if self.top >= self.bottom:
            raise BadRequest(f"box top ({self.top}) must be less than bottom ({self.bottom})")

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top

    @classmethod
    def clipped(cls, top: int, right: int, bottom: int, left: int, size: Size) -> Box | None:
        """Return the part of these edges inside an image of `size`, or None when none is.

        Parameters
        ----------
        top, right, bottom, left : int
            Edges in pixels, possibly outside the image (dlib reports boxes of faces at
            the border that way).
        size : tuple of int
            The image's (width, height).

        Returns
        -------
        Box or None
            The box clipped to the image; None when nothing of it lies inside.
        """
        width, height = image_size(size)
        top, left = max(0, top), max(0, left)
        right, bottom = min(width, right), min(height, bottom)
        if left >= right or top >= bottom:
            return None
        return cls(top=top, right=right, bottom=bottom, left=left)

    def fits(self, size: Size) -> bool:
        """Tell whether the box lies inside an image of `size` (width, height)."""
        width, height = size
        return self.right <= width and self.bottom <= height

    def scaled(self, source: Size, target: Size) -> Box:
        """Return this box, given in an image of size `source`, in an image of size `target`.

        Parameters
        ----------
        source : tuple of int
            (width, height) of the image space the box is in.
        target : tuple of int
            (width, height) of the image space to move it to: the same picture, resized.

        Returns
        -------
        Box
            The edges scaled by target / source on each axis, rounded half up, clipped to
            the target, and never empty (at least one pixel on each axis).

        Raises
        ------
        BadRequest
            When a size is not two positive integers.
        """
        source_width, source_height = image_size(source, "source size")
        target_width, target_height = image_size(target, "target size")
        x = target_width / source_width
        y = target_height / source_height
        left = min(max(_round(self.left * x), 0), target_width - 1)
        right = min(max(_round(self.right * x), left + 1), target_width)
        top = min(max(_round(self.top * y), 0), target_height - 1)
        bottom = min(max(_round(self.bottom * y), top + 1), target_height)
        return Box(top=top, right=right, bottom=bottom, left=left)
