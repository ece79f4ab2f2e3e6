"""Face detection and encoding with dlib: HOG detector, 5-point landmarks, 128-D ResNet.

One coordinate space end to end: `detect` decodes the image at most `max_width` wide and
reports that size with its boxes; `encode_box` takes a hand-drawn box with the size of the
space it was drawn in, scales it into the image it decodes, and returns the box in the
space it was given (WikiVisage encoded a 500-px box on a 1024-px image; reference §10.7).

dlib is not thread-safe: the models of a process are used under one lock. For parallel
work use `wikiloom.faces.pool.FacePool`, one process (and one set of models) per core.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from wikiloom.errors import BadRequest
from wikiloom.faces.boxes import Box, Size, image_size

#: Pillow's own decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`): above it Pillow warns,
#: above twice it refuses. WikiVisage refused originals above 100 Mpx.
MAX_PIXELS = 89_478_485
#: Width of the images detection runs on (WikiVisage's `?width=500` thumbnails).
MAX_WIDTH = 500
#: Length of a face encoding.
DIMENSIONS = 128
#: The model files of the face_recognition_models distribution.
MODEL_FILES = {
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
}

Encoding = npt.NDArray[np.float64]
Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False, slots=True)
class Face:
    """A face found or drawn in an image: its box and its 128-D encoding.

    Parameters
    ----------
    box : Box
        Where the face is, in the pixel space of the image the detection ran on.
    encoding : numpy.ndarray
        128 float64 values (dlib's ResNet); stored read-only. Two photos of one person
        are usually less than 0.6 apart (Euclidean).
    """

    box: Box
    encoding: Encoding

    def __post_init__(self) -> None:
        encoding = np.array(self.encoding, dtype=np.float64)
        if encoding.shape != (DIMENSIONS,):
            raise BadRequest(f"a face encoding has {DIMENSIONS} values, not {encoding.shape}")
        encoding.setflags(write=False)
        object.__setattr__(self, "encoding", encoding)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Face):
            return NotImplemented
        return self.box == other.box and np.array_equal(self.encoding, other.encoding)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class DetectedImage:
    """The faces of one image and the size of the image the detection ran on.

    Parameters
    ----------
    width, height : int
        Size of the decoded image: the coordinate space of every box in `faces`.
    faces : tuple of Face
        The faces, in the detector's order.
    """

    width: int
    height: int
    faces: tuple[Face, ...]

    def __post_init__(self) -> None:
        size = image_size((self.width, self.height))
        object.__setattr__(self, "faces", tuple(self.faces))
        for face in self.faces:
            if not face.box.fits(size):
                raise BadRequest(f"{face.box} lies outside the image ({size[0]}×{size[1]})")

    @property
    def size(self) -> Size:
        """(width, height) of the coordinate space."""
        return self.width, self.height


def model_folder() -> Path:
    """Return the folder of the face_recognition_models files, without importing it.

    Importing the package needs `pkg_resources` (setuptools < 81); finding it does not.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed (pip install it)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@dataclass(frozen=True)
class Models:
    """The dlib models of this process, used only under `lock` (dlib is not thread-safe)."""

    detector: Any
    landmarks: Any
    encoder: Any
    rectangle: Any
    lock: threading.Lock

    @classmethod
    @functools.cache
    def load(cls) -> Models:
        """Load the models once per process (about half a second)."""
        import dlib  # type: ignore[import-untyped]

        folder = model_folder()
        paths = {name: folder / file for name, file in MODEL_FILES.items()}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise RuntimeError(f"face model files missing: {', '.join(missing)}")
        return cls(
            detector=dlib.get_frontal_face_detector(),
            landmarks=dlib.shape_predictor(str(paths["landmarks"])),
            encoder=dlib.face_recognition_model_v1(str(paths["encoder"])),
            rectangle=dlib.rectangle,
            lock=threading.Lock(),
        )

    def boxes(self, pixels: Pixels, upsample: int) -> list[Box]:
        """Run the HOG detector and return its boxes, clipped to the image."""
        height, width = pixels.shape[:2]
        with self.lock:
            rectangles = self.detector(pixels, upsample)
        boxes = []
        for rectangle in rectangles:  # dlib's right and bottom are inclusive
            box = Box.clipped(
                rectangle.top(),
                rectangle.right() + 1,
                rectangle.bottom() + 1,
                rectangle.left(),
                (width, height),
            )
            if box is not None:
                boxes.append(box)
        return boxes

    def encode(self, pixels: Pixels, box: Box, jitters: int = 1) -> Encoding:
        """Return the 128-D encoding of the face in `box` (in the pixels' own space)."""
        rectangle = self.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        with self.lock:
            shape = self.landmarks(pixels, rectangle)
            descriptor = self.encoder.compute_face_descriptor(pixels, shape, jitters)
        return np.array(descriptor, dtype=np.float64)


def decode(
    image_bytes: bytes, *, max_width: int = MAX_WIDTH, max_pixels: int = MAX_PIXELS
) -> Pixels:
    """Decode an image into RGB pixels at most `max_width` wide.

    Parameters
    ----------
    image_bytes : bytes
        A file in any format Pillow reads (JPEG, PNG, WebP, TIFF, GIF: its first frame).
    max_width : int
        Wider images are scaled down to this width (Lanczos), keeping their shape; narrower
        ones are left as they are.
    max_pixels : int
        Images with more pixels than this (as their header says) are refused before they
        are decoded: a decompression bomb guard. Pillow's own guard still applies.

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8, C-contiguous, with the EXIF orientation applied (the
        picture as people see it).

    Raises
    ------
    BadRequest
        When the bytes are not an image Pillow can decode, or the image is too large.
    """
    if max_width <= 0:
        raise BadRequest(f"max_width must be positive, not {max_width}")
    try:
        opened = Image.open(io.BytesIO(image_bytes))
        width, height = opened.size
        if width * height > max_pixels:
            raise BadRequest(
                f"image is {width}×{height} ({width * height:,} pixels), "
                f"more than the {max_pixels:,} allowed"
            )
        scale = min(1.0, max_width / _upright_width(opened))
        if scale < 1.0 and opened.format == "JPEG":  # decode at 1/2, 1/4, 1/8 when that suffices
            opened.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
        image = ImageOps.exif_transpose(opened).convert("RGB")
    except Image.DecompressionBombError as error:
        raise BadRequest(f"image is too large: {error}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise BadRequest(f"not an image Pillow can decode: {error}") from None
    if image.width > max_width:
        new_height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, new_height), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _upright_width(image: Image.Image) -> int:
    """Return the image's width once its EXIF orientation is applied."""
    orientation = image.getexif().get(0x0112, 1)  # 5-8: rotated by 90 or 270 degrees
    return image.height if orientation in (5, 6, 7, 8) else image.width


def _size_of(pixels: Pixels) -> Size:
    """Return (width, height) of decoded pixels."""
    return int(pixels.shape[1]), int(pixels.shape[0])


def detect(image_bytes: bytes, *, max_width: int = MAX_WIDTH, upsample: int = 1) -> DetectedImage:
    """Find and encode every face of an image.

    Parameters
    ----------
    image_bytes : bytes
        The image file.
    max_width : int
        Width the image is decoded at (see `decode`); the boxes are in that space.
    upsample : int
        How many times the HOG detector doubles the image first: 1 finds faces down to
        about 40 px (80 px without), at about 4x the time of 0.

    Returns
    -------
    DetectedImage
        The decoded size and every face (5-point landmarks, ResNet encoding, one jitter).

    Raises
    ------
    BadRequest
        When the bytes are not a decodable image, it is too large, or `upsample` is
        negative.
    """
    if upsample < 0:
        raise BadRequest(f"upsample must not be negative, not {upsample}")
    pixels = decode(image_bytes, max_width=max_width)
    models = Models.load()
    faces = tuple(Face(box, models.encode(pixels, box)) for box in models.boxes(pixels, upsample))
    width, height = _size_of(pixels)
    return DetectedImage(width=width, height=height, faces=faces)


def encode_box(image_bytes: bytes, box: Box, space: Size, *, max_width: int = MAX_WIDTH) -> Face:
    """Encode a face drawn by hand, its box given in the coordinate space `space`.

    Parameters
    ----------
    image_bytes : bytes
        The image file.
    box : Box
        The face's box in an image of size `space`.
    space : tuple of int
        (width, height) of the image the box was drawn in: the detection's size (what is
        stored) or the size the picture was displayed at.
    max_width : int
        Width the image is decoded at; the box is scaled from `space` into that size.

    Returns
    -------
    Face
        The box, clipped to `space` and in that space, with its encoding.

    Raises
    ------
    BadRequest
        When the image cannot be decoded, `space` is not the image's shape (another image's
        space, or width and height swapped), or the box lies outside `space`.
    """
    space = image_size(space, "box space")
    inside = Box.clipped(box.top, box.right, box.bottom, box.left, space)
    if inside is None:
        raise BadRequest(f"{box} lies outside its image space ({space[0]}×{space[1]})")
    pixels = decode(image_bytes, max_width=max_width)
    size = _size_of(pixels)
    _check_shape(space, size)
    encoding = Models.load().encode(pixels, inside.scaled(space, size))
    return Face(inside, encoding)


def _check_shape(space: Size, size: Size) -> None:
    """Refuse a box space whose aspect ratio is not the image's (2 % and a pixel of slack)."""
    expected_height = space[0] * size[1] / size[0]
    if abs(space[1] - expected_height) > max(1.0, 0.02 * expected_height):
        raise BadRequest(
            f"box space {space[0]}×{space[1]} is not the shape of the image "
            f"({size[0]}×{size[1]}): is the box from another image or orientation?"
        )
