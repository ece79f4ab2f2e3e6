"""Face detection and encoding on real photos: boxes, same-person distances, one space."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wikiloom.errors import BadRequest
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import (
    DetectedImage,
    Face,
    Models,
    decode,
    detect,
    encode_box,
)

PHOTOS = Path(__file__).resolve().parents[1] / "data" / "faces"
NAMES = ("obama", "obama2", "biden", "biden2", "obama_and_biden")
#: dlib's same-person radius: two photos of one person are closer than this.
SAME = 0.6

# Where things are in skimage's astronaut photo (512×512, Eileen Collins, NASA), measured once
# by eye on a 10-px grid drawn over the original, independently of any detector: her eyes
# (viewer's left and right) and the middle of her mouth; the centre of the round mission
# patch on her chest.
EYES = ((201, 101), (246, 103))
MOUTH = (222, 146)
PATCH = (171, 383)


def photo(name: str) -> bytes:
    """Return the bytes of a test photo (tests/data/faces, see its PROVENANCE.md)."""
    return (PHOTOS / f"{name}.jpg").read_bytes()


def astronaut_jpeg() -> bytes:
    """Return skimage's astronaut photo as JPEG bytes."""
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()).save(out, "JPEG", quality=95)
    return out.getvalue()


def distance(a: Face, b: Face) -> float:
    """Euclidean distance of two faces' encodings."""
    return float(np.linalg.norm(a.encoding - b.encoding))


def contains(box: Box, point: tuple[int, int]) -> bool:
    x, y = point
    return box.left <= x < box.right and box.top <= y < box.bottom


def png_header(width: int, height: int) -> bytes:
    """Return a PNG that claims a size (a decompression bomb's header, without the bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def detected() -> dict[str, DetectedImage]:
    return {name: detect(photo(name)) for name in NAMES}


def only(image: DetectedImage) -> Face:
    assert len(image.faces) == 1, image.faces
    return image.faces[0]


# The astronaut: a face and a false positive


def test_astronaut_at_its_own_size_has_the_face_and_the_mission_patch() -> None:
    image = detect(astronaut_jpeg(), max_width=512, upsample=1)
    assert image.size == (512, 512)
    assert len(image.faces) == 2
    face, patch = image.faces
    assert all(contains(face.box, point) for point in (*EYES, MOUTH))
    centre = ((face.box.left + face.box.right) / 2, (face.box.top + face.box.bottom) / 2)
    middle = (sum(x for x, _ in (*EYES, MOUTH)) / 3, sum(y for _, y in (*EYES, MOUTH)) / 3)
    assert abs(centre[0] - middle[0]) < 15
    assert abs(centre[1] - middle[1]) < 15
    assert 60 <= face.box.width <= 120
    assert 60 <= face.box.height <= 120
    assert contains(patch.box, PATCH)
    assert not contains(patch.box, MOUTH)
    assert distance(face, patch) > 0.7  # measured 0.76 (reference §10.6)
    assert 1.3 < float(np.linalg.norm(face.encoding)) < 1.6  # measured 1.46


def test_astronaut_at_500_px_has_the_face_first() -> None:
    image = detect(astronaut_jpeg())
    assert image.size == (500, 500)
    # The patch's detection is weak (score 0.17 at 512 px, face 1.14): here it is gone.
    assert all(contains(image.faces[0].box, point) for point in (*EYES, MOUTH))


# Same person, other person


def test_two_photos_of_one_person_are_within_the_same_person_radius(
    detected: dict[str, DetectedImage],
) -> None:
    obama, obama2 = only(detected["obama"]), only(detected["obama2"])
    biden, biden2 = only(detected["biden"]), only(detected["biden2"])
    assert distance(obama, obama2) < SAME
    assert distance(biden, biden2) < SAME
    assert distance(obama, biden) > SAME
    assert distance(obama2, biden2) > SAME


def test_both_people_are_found_in_the_photo_of_both(detected: dict[str, DetectedImage]) -> None:
    references = {"obama": only(detected["obama"]), "biden": only(detected["biden"])}
    group = detected["obama_and_biden"].faces
    assert len(group) >= 2  # 3: the two men and a girl in the corner
    matches = [
        {name for name, reference in references.items() if distance(face, reference) < SAME}
        for face in group
    ]
    assert all(len(found) <= 1 for found in matches), matches  # nobody is both
    for name in references:
        assert sum(name in found for found in matches) == 1, (name, matches)


def test_boxes_lie_in_the_reported_space(detected: dict[str, DetectedImage]) -> None:
    for name, image in detected.items():
        with Image.open(PHOTOS / f"{name}.jpg") as original:
            expected = (500, round(original.height * 500 / original.width))
        assert image.size == expected, name
        assert image.faces, name
        for face in image.faces:
            assert face.box.right <= image.width
            assert face.box.bottom <= image.height
            assert face.encoding.shape == (128,)
            assert face.encoding.dtype == np.float64


def test_a_face_is_immutable(detected: dict[str, DetectedImage]) -> None:
    face = only(detected["obama"])
    with pytest.raises(ValueError, match="read-only"):
        face.encoding[0] = 1.0
    assert face == Face(face.box, face.encoding.copy())
    assert face != Face(face.box, face.encoding + 1e-9)


# One coordinate space: boxes drawn by hand


def test_the_detected_box_encodes_to_the_detected_encoding(
    detected: dict[str, DetectedImage],
) -> None:
    image = detected["obama"]
    face = only(image)
    assert encode_box(photo("obama"), face.box, image.size) == face


@pytest.mark.parametrize("name", ["obama", "biden2"])
def test_a_box_drawn_at_display_size_encodes_as_the_detected_face(
    name: str, detected: dict[str, DetectedImage]
) -> None:
    image = detected[name]
    face = only(image)
    display = (1280, round(image.height * 1280 / image.width))
    drawn = face.box.scaled(image.size, display)  # the user draws on a 1280-px picture
    assert drawn.width > 2 * face.box.width
    stored = drawn.scaled(display, image.size)  # the UI sends it back in the detection space
    assert abs(stored.left - face.box.left) <= 1
    assert abs(stored.bottom - face.box.bottom) <= 1
    encoded = encode_box(photo(name), stored, image.size)
    assert encoded.box == stored
    assert distance(encoded, face) < 0.1
    # Given with the space it was drawn in, the box is scaled here, and stored in that space.
    direct = encode_box(photo(name), drawn, display)
    assert direct.box == drawn
    assert distance(direct, face) < 0.1


@pytest.mark.parametrize("name", ["biden2", "obama_and_biden"])
def test_a_box_in_the_wrong_space_encodes_someone_else(
    name: str, detected: dict[str, DetectedImage]
) -> None:
    """WikiVisage's bug (reference §10.7): a 500-px box encoded on a 1024-px image as is."""
    image = detected[name]  # originals wider than 1024 px
    large = decode(photo(name), max_width=1024)
    large_space = (large.shape[1], large.shape[0])
    assert large_space[0] == 1024
    for face in image.faces:
        right = encode_box(photo(name), face.box, image.size, max_width=1024)
        assert distance(right, face) < 0.25  # the same face at twice the resolution
        wrong = encode_box(photo(name), face.box, large_space, max_width=1024)
        assert distance(wrong, face) > SAME


def test_a_box_space_of_another_shape_or_outside_is_refused(
    detected: dict[str, DetectedImage],
) -> None:
    image = detected["obama"]  # 500×625
    box = only(image).box
    with pytest.raises(BadRequest, match="not the shape of the image"):
        encode_box(photo("obama"), box, (image.height, image.width))
    with pytest.raises(BadRequest, match="outside its image space"):
        encode_box(photo("obama"), Box(top=10, right=40, bottom=40, left=10), (8, 10))
    with pytest.raises(BadRequest, match="box space must be positive"):
        encode_box(photo("obama"), box, (0, 625))
    edge = encode_box(photo("obama"), Box(top=600, right=520, bottom=700, left=400), image.size)
    assert edge.box == Box(top=600, right=500, bottom=625, left=400)  # clipped to the space


# Decoding


def test_decode_scales_down_keeps_shape_and_leaves_small_images() -> None:
    pixels = decode(photo("obama_and_biden"))  # 2000×1428
    assert pixels.shape == (357, 500, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags["C_CONTIGUOUS"]
    assert decode(astronaut_jpeg(), max_width=1024).shape == (512, 512, 3)
    grey = io.BytesIO()
    Image.new("L", (40, 30), 128).save(grey, "PNG")
    assert decode(grey.getvalue()).shape == (30, 40, 3)


def test_decode_applies_the_exif_orientation() -> None:
    with Image.open(PHOTOS / "obama.jpg") as original:
        upright = original.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", quality=95, exif=exif)
    rotated = out.getvalue()
    assert decode(rotated).shape == decode(photo("obama")).shape == (625, 500, 3)
    assert only(detect(rotated)).box.top < 150  # the face is at the top, as people see it


@pytest.mark.parametrize(
    "data", [b"", b"not an image at all", photo("obama")[:2000]], ids=["empty", "text", "cut"]
)
def test_bytes_that_are_not_an_image_are_refused(data: bytes) -> None:
    with pytest.raises(BadRequest, match="not an image"):
        detect(data)


def test_oversized_images_are_refused_before_decoding() -> None:
    with pytest.raises(BadRequest, match=r"910×1137 \(1,034,670 pixels\), more than the 1,000,000"):
        decode(photo("obama"), max_pixels=1_000_000)
    with (
        pytest.warns(Image.DecompressionBombWarning),
        pytest.raises(BadRequest, match="10000×9000"),
    ):
        detect(png_header(10_000, 9_000))  # 90 Mpx: over our limit, Pillow only warns
    with pytest.raises(BadRequest, match="too large"):
        detect(png_header(30_000, 30_000))  # Pillow itself refuses


def test_bad_detection_options_are_refused() -> None:
    with pytest.raises(BadRequest, match="upsample"):
        detect(photo("obama"), upsample=-1)
    with pytest.raises(BadRequest, match="max_width"):
        decode(photo("obama"), max_width=0)


# Boxes


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((-1, 10, 10, 0), "top must not be negative"),
        ((0, 10, 10, -3), "left must not be negative"),
        ((0, 10, 10, 10), r"left \(10\) must be less than right \(10\)"),
        ((5, 10, 4, 0), r"top \(5\) must be less than bottom \(4\)"),
        ((0, 10.5, 10, 0), "right must be an integer"),
        ((0, "10", 10, 0), "right must be an integer"),
        ((True, 10, 10, 0), "top must be an integer"),
    ],
)
def test_box_validation(edges: tuple[int, int, int, int], message: str) -> None:
    top, right, bottom, left = edges
    with pytest.raises(BadRequest, match=message):
        Box(top=top, right=right, bottom=bottom, left=left)


def test_box_accepts_numpy_integers() -> None:
    box = Box(*np.array([1, 20, 30, 2]))
    assert box == Box(top=1, right=20, bottom=30, left=2)
    assert type(box.top) is int
    assert (box.width, box.height) == (18, 29)


def test_box_scaling_rounds_clips_and_never_empties() -> None:
    box = Box(top=10, right=30, bottom=50, left=20)
    assert box.scaled((100, 100), (200, 300)) == Box(top=30, right=60, bottom=150, left=40)
    assert box.scaled((100, 100), (100, 100)) == box
    assert box.scaled((100, 100), (33, 33)) == Box(top=3, right=10, bottom=17, left=7)
    assert Box(0, 100, 100, 99).scaled((100, 100), (10, 10)) == Box(0, 10, 10, 9)
    assert Box(0, 120, 130, 90).scaled((100, 100), (50, 50)) == Box(0, 50, 50, 45)
    with pytest.raises(BadRequest, match="source size must be positive"):
        box.scaled((0, 100), (10, 10))
    with pytest.raises(BadRequest, match="target size must be two integers"):
        box.scaled((100, 100), (10,))  # type: ignore[arg-type]


def test_box_clipping() -> None:
    assert Box.clipped(-5, 30, 120, -2, (100, 100)) == Box(top=0, right=30, bottom=100, left=0)
    assert Box.clipped(0, 10, 10, 0, (100, 100)) == Box(0, 10, 10, 0)
    assert Box.clipped(100, 130, 120, 110, (100, 100)) is None


def test_detected_image_refuses_boxes_outside_its_space() -> None:
    face = Face(Box(0, 20, 20, 0), np.zeros(128))
    assert DetectedImage(20, 20, (face,)).size == (20, 20)
    with pytest.raises(BadRequest, match="outside the image"):
        DetectedImage(10, 20, (face,))
    with pytest.raises(BadRequest, match="128 values"):
        Face(Box(0, 20, 20, 0), np.zeros(64))


def test_models_load_once_per_process() -> None:
    assert Models.load() is Models.load()
