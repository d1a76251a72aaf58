"""Verifying photos and signatures sent with a visit: decode, type, size, EXIF, thumbnail, perceptual hash.

Pure functions on a file already on disk; nothing here touches the database or the storage.
"""
from __future__ import annotations

import io
import logging
import math
from operator import mul
import re
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, UnidentifiedImageError
# Imported for their side effect: registering the formats named in _RECOGNISED_FORMATS
# (Pillow loads only a few plugins until something asks for all of them).
from PIL import BmpImagePlugin, GifImagePlugin, IcoImagePlugin, JpegImagePlugin, MpoImagePlugin  # noqa: F401
from PIL import PngImagePlugin, PpmImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

from ..config import LOCAL_TZ
from .xforms import PLAUSIBLE_YEARS

log = logging.getLogger(__name__)

# The file extension a phone gives a photo, and the format its bytes must then be in.
EXTENSION_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# Formats Pillow may recognise, only to say what a refused file really is. Recognising reads the
# header alone; nothing outside ALLOWED_FORMATS is ever decoded. Pillow opens a JPEG that carries
# extra images (multi-picture: Android "Ultra HDR" gain maps, depth maps) as format MPO: a JPEG to us.
_RECOGNISED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "ICO", "PPM")
_FORMAT_ALIASES = {"MPO": "JPEG"}
_EXTENSION_OF = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}

THUMBNAIL_SIZE = 320  # longest side of the review-screen thumbnail, in pixels
THUMBNAIL_QUALITY = 80

# Perceptual-hash distance (out of 64 bits) at or below which two photos are taken to be the
# same picture. Measured (tests/test_media.py asserts these) on 40 photo-like 1600x1200 JPEGs:
# re-encoding at quality 30, 60 or 95, halving the size, brightness or contrast +-10 %, or all at
# once move the hash by at most 4 bits (mean < 1); cutting 2.5 % off every edge moves it by up to
# 10 (mean 5); different photos are 16 to 42 bits apart (mean 31; unrelated hashes average 32).
# On two real photographs (720x477) the same transformations move it by 0-2, a 2.5 % crop by 4-6,
# and two separate shots of the same circuit board on the same table are 6 apart: a near-identical
# re-shot counts as the same picture, which is the point, but it also means that two households'
# identical printed documents (the dibao certificate, a bank's passbook) photographed the same way
# can come close. So this flags "possibly re-used", for a person to look at, never a verdict.
SIMILAR_PHASH_DISTANCE = 10

_PHASH_SIDE = 32  # the image is reduced to 32x32 grey before the DCT
_PHASH_KEEP = 8  # the lowest 8x8 frequencies make the 64 bits


class ImageRefused(ValueError):
    """A file sent as a photo or signature is not one we can keep; the message says why in plain words."""


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, read without decoding a pixel: enough to refuse a file at receipt."""

    format: str  # "JPEG" / "PNG" / "WEBP"
    mime: str  # "image/jpeg" ...
    width: int  # as stored, before the EXIF orientation is applied
    height: int


@dataclass(frozen=True)
class ImageFacts(ImageHeader):
    """The header and what decoding the picture found."""

    taken_at: datetime | None  # aware, UTC
    latitude: float | None  # signed decimal degrees, S negative
    longitude: float | None  # signed decimal degrees, W negative
    camera: str | None  # "Make Model"
    phash: str  # 64-bit perceptual hash, 16 hex characters
    thumbnail: bytes  # JPEG, longest side <= THUMBNAIL_SIZE, orientation applied, no EXIF


def check_image(path: Path, *, declared_name: str, max_pixels: int = 40_000_000) -> ImageHeader:
    """The check at receipt: the file is a JPEG, PNG or WebP picture, the type its name claims,
    under the pixel limit. Reads the header alone, so it costs a fraction of a millisecond; whether
    the rest is sound (decoding the pixels, PNG checksums) is inspect_image's work, later: a damaged
    picture is kept and flagged, not refused (docs/decisions.md). Raise ImageRefused saying why
    when the file is not a picture we accept."""
    path = Path(path)
    name = declared_name
    extension = Path(declared_name).suffix.lower()
    expected = EXTENSION_FORMATS.get(extension)
    if expected is None:
        shown = f"a {extension} file" if extension else "a file without an extension such as .jpg"
        raise ImageRefused(f"{name}: only JPEG, PNG or WebP pictures are accepted, this is {shown}.")
    if path.stat().st_size == 0:
        raise ImageRefused(f"{name} is empty (0 bytes): the phone holds no picture under that name. "
                           "Take the picture again in the form and send it.")
    # Pillow's own bomb check (a warning above MAX_IMAGE_PIXELS, an error above twice that) runs when
    # the header is read; keeping our limit at or below it means anything it would warn about is
    # refused by us before a single pixel is decoded.
    limit = max_pixels if not Image.MAX_IMAGE_PIXELS else min(max_pixels, Image.MAX_IMAGE_PIXELS)
    with _open(path, name) as image:
        real = _FORMAT_ALIASES.get(image.format or "", image.format or "unknown")
        if real not in ALLOWED_FORMATS:
            raise ImageRefused(
                f"{name} is a {real} picture; only JPEG, PNG or WebP pictures are accepted."
            )
        if real != expected:
            raise ImageRefused(
                f"{name} is named {extension} but is really a {real} picture "
                f"(it should end in {_EXTENSION_OF[real]}); it was renamed or is not what it claims to be."
            )
        width, height = image.size
        if width * height > limit:
            raise ImageRefused(
                f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} million), "
                f"more than the {limit / 1e6:.0f} million this server accepts; "
                f"set the phone camera to a smaller picture size."
            )
    return ImageHeader(real, Image.MIME.get(real, "application/octet-stream"), width, height)


def inspect_image(
    path: Path,
    *,
    declared_name: str,
    max_pixels: int = 40_000_000,
    local_tz: str = LOCAL_TZ.key,
) -> ImageFacts:
    """Check that the file at `path`, sent under the name `declared_name`, is a picture we accept,
    decode it and read what the review needs from it. Raise ImageRefused saying why when it is not.

    `local_tz` is the zone of EXIF times that carry no offset (phone cameras write local time).
    """
    path = Path(path)
    name = declared_name
    header = check_image(path, declared_name=name, max_pixels=max_pixels)
    width, height = header.width, header.height
    with _open(path, name) as image:
        try:
            image.verify()  # PNG: every chunk's checksum (Pillow checks nothing more for JPEG or WebP)
        except Exception as error:  # Pillow raises many types on damaged files
            log.info("verify() refused %s: %r", name, error)
            raise ImageRefused(f"{name} is damaged: parts of it do not match their checksums "
                               f"(the file on the phone may be damaged).") from None

    # Decode, at reduced scale for JPEG (the thumbnail and the hash need no more), which still
    # runs through the whole file, so a truncated or corrupt JPEG fails here.
    with _open(path, name) as image:
        longest = max(width, height)
        # Ask for the smallest scale whose image still covers the thumbnail box (1/4 for a
        # 1600 x 1200 photo): decoding cost falls with the square of the scale.
        image.draft(None, (max(1, THUMBNAIL_SIZE * width // longest), max(1, THUMBNAIL_SIZE * height // longest)))
        try:
            image.load()
        except MemoryError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRefused(f"{name} is too large to open safely.") from None
        except Exception as error:
            log.info("load() refused %s: %r", name, error)
            raise ImageRefused(
                f"{name} is damaged or incomplete: it could not be opened as a picture "
                f"(the file on the phone may be damaged; return the visit to have it taken again)."
            ) from None
        exif = _read_exif(image)
        taken_at = _taken_at(exif, local_tz)
        latitude, longitude = _gps_position(exif)
        camera = _camera(exif)
        upright = _to_rgb(_apply_orientation(image, exif))  # once: both the hash and the thumbnail use it
        phash = _phash(upright)
        thumbnail = _thumbnail(upright)

    return ImageFacts(
        **dataclasses.asdict(header),
        taken_at=taken_at,
        latitude=latitude,
        longitude=longitude,
        camera=camera,
        phash=phash,
        thumbnail=thumbnail,
    )


def phash_distance(a: str, b: str) -> int:
    """Number of bits in which two perceptual hashes differ (0 = same picture, 64 = opposite)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _open(path: Path, name: str) -> Image.Image:
    try:
        return Image.open(path, formats=_RECOGNISED_FORMATS)
    except UnidentifiedImageError:
        raise ImageRefused(f"{name} is not a picture: its contents are not an image.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(
            f"{name} claims to be larger than any photo a phone takes; it is refused as unsafe to open."
        ) from None
    except MemoryError:
        raise
    except Exception as error:  # a header so broken that the format's own parser fails
        log.info("open() refused %s: %r", name, error)
        raise ImageRefused(f"{name} is damaged: it could not be opened as a picture.") from None


# --- EXIF -------------------------------------------------------------------------------------
# Every reader below returns None for a tag that is absent or malformed: a phone, an editor or a
# picker app can write anything, and a bad tag must cost us that tag, never the photo.

def _read_exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception as error:
        log.info("unreadable EXIF ignored: %r", error)
        return None


def _ifd(exif: Image.Exif | None, tag: int) -> dict:
    if exif is None:
        return {}
    try:
        return dict(exif.get_ifd(tag))
    except Exception as error:
        log.info("unreadable EXIF IFD %#x ignored: %r", tag, error)
        return {}


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


_EXIF_TIME = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _parse_exif_time(value, offset, local_tz: str) -> datetime | None:
    match = _EXIF_TIME.match(_text(value) or "")
    if not match:
        return None
    try:
        local = datetime(*(int(part) for part in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00", month 13 ...
        return None
    zone = None
    offset_match = _EXIF_OFFSET.fullmatch(_text(offset) or "")
    if offset_match:
        sign, hours, minutes = offset_match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta <= timedelta(hours=14):
            zone = timezone(-delta if sign == "-" else delta)
    if zone is None:
        zone = ZoneInfo(local_tz)
    try:
        taken = local.replace(tzinfo=zone).astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None
    return taken if taken.year in PLAUSIBLE_YEARS else None


def _taken_at(exif: Image.Exif | None, local_tz: str) -> datetime | None:
    if exif is None:
        return None
    details = _ifd(exif, ExifTags.IFD.Exif)
    taken = _parse_exif_time(
        details.get(ExifTags.Base.DateTimeOriginal), details.get(ExifTags.Base.OffsetTimeOriginal), local_tz
    )
    if taken is None:
        try:
            modified = exif.get(ExifTags.Base.DateTime)
        except Exception:
            modified = None
        taken = _parse_exif_time(modified, details.get(ExifTags.Base.OffsetTime), local_tz)
    return taken


def _degrees(value, ref, negative_ref: str, positive_ref: str, limit: float) -> float | None:
    hemisphere = (_text(ref) or "").upper()[:1]
    if hemisphere not in (negative_ref, positive_ref):
        return None  # without N/S (E/W) the sign is a guess, and a wrong guess is a false alarm
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= 3:
        return None
    try:
        parts = [float(part) for part in value]  # IFDRational n/0 becomes nan
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(part) and part >= 0 for part in parts):
        return None
    if any(part >= 60 for part in parts[1:]):
        return None
    degrees = round(sum(part / 60**index for index, part in enumerate(parts)), 7)  # 7 places: ~1 cm
    if degrees > limit:
        return None
    return -degrees if hemisphere == negative_ref else degrees


def _gps_position(exif: Image.Exif | None) -> tuple[float | None, float | None]:
    gps = _ifd(exif, ExifTags.IFD.GPSInfo)
    if not gps:
        return None, None
    latitude = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S", "N", 90)
    longitude = _degrees(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W", "E", 180
    )
    if latitude is None or longitude is None:
        return None, None
    if latitude == 0 and longitude == 0:
        return None, None  # what some apps write when they had no fix
    return latitude, longitude


CAMERA_LENGTH = 255  # Attachment.camera


def _camera(exif: Image.Exif | None) -> str | None:
    if exif is None:
        return None
    try:
        make = _text(exif.get(ExifTags.Base.Make))
        model = _text(exif.get(ExifTags.Base.Model))
    except Exception:
        return None
    if make and model and model.lower().startswith(make.lower()):
        camera = model  # "Xiaomi" + "Xiaomi 13" is "Xiaomi 13", not "Xiaomi Xiaomi 13"
    else:
        camera = " ".join(part for part in (make, model) if part)
    # Cut to its column: a longer one failed the checks' write on PostgreSQL at every retry.
    return camera[:CAMERA_LENGTH] or None


# --- pixels -----------------------------------------------------------------------------------

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _apply_orientation(image: Image.Image, exif: Image.Exif | None) -> Image.Image:
    """The picture as the camera held it: ImageOps.exif_transpose's table, without re-writing the
    EXIF block (which can fail on a malformed one) since the result is never saved with EXIF."""
    try:
        orientation = exif.get(ExifTags.Base.Orientation, 1) if exif is not None else 1
        method = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    except Exception:
        method = None
    return image.transpose(method) if method is not None else image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB on white: a transparent signature background must not turn black in a JPEG."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))  # blends over white; 5x faster than alpha_composite
        return canvas
    return image if image.mode == "RGB" else image.convert("RGB")


def _thumbnail(image: Image.Image) -> bytes:
    small = _to_rgb(image)
    small = small.copy() if small is image else small
    # Bilinear from a source at most ~2.5 times larger looks the same at 320 px and costs half.
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)  # no exif= : none is kept
    return buffer.getvalue()


# DCT-II basis for the lowest _PHASH_KEEP frequencies over _PHASH_SIDE samples.
_COSINES = [
    [math.cos(math.pi / _PHASH_SIDE * (n + 0.5) * k) for n in range(_PHASH_SIDE)] for k in range(_PHASH_KEEP)
]


def _phash(image: Image.Image) -> str:
    """DCT perceptual hash (as pHash.org and the imagehash library do): grey, 32x32, 2-D DCT, keep
    the 8x8 lowest frequencies, one bit each for above/below their median.

    Low frequencies describe the layout of light and dark, which survives re-compression and
    resizing; comparing with the median makes the bits indifferent to overall brightness and
    contrast. A difference hash (dHash) compares neighbouring pixels directly and moves more under
    JPEG noise; measured figures are in tests/test_media.py.
    """
    grey = _to_rgb(image).convert("L").resize(
        (_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    pixels = grey.tobytes()
    side, keep = _PHASH_SIDE, _PHASH_KEEP
    rows = [pixels[y * side : (y + 1) * side] for y in range(side)]
    # 1-D DCT along each row (only the low frequencies), then along each column of the result.
    # (sum(map(mul, …)) is the same arithmetic in the same order as a generator, at half the cost.)
    along_rows = [[sum(map(mul, row, _COSINES[u])) for u in range(keep)] for row in rows]
    columns = [[along_rows[y][u] for y in range(side)] for u in range(keep)]
    coefficients = [sum(map(mul, columns[u], _COSINES[v])) for v in range(keep) for u in range(keep)]
    median = sorted(coefficients)[len(coefficients) // 2]
    bits = 0
    for value in coefficients:
        bits = (bits << 1) | (value > median)
    return f"{bits:016x}"
