"""Verifying photos and signatures: what is accepted, what is refused and why, EXIF time, GPS and
camera, orientation in the thumbnail, and how far the perceptual hash moves (and does not)."""
from __future__ import annotations

import io
import itertools
import struct
import warnings
import zlib
from datetime import datetime, timezone

import pytest
from PIL import ExifTags, Image, ImageEnhance, ImageFile, features
from PIL.TiffImagePlugin import IFDRational

from server.models import Attachment
from server.services.media import (
    SIMILAR_PHASH_DISTANCE,
    THUMBNAIL_SIZE,
    ImageFacts,
    ImageRefused,
    inspect_image,
    phash_distance,
)
from tests.builders import SHANGHAI, jpeg_with_exif, photo_image, png_signature


@pytest.fixture
def inspect(tmp_path):
    """inspect_image on bytes written under a declared name, as ingest will call it."""

    def run(data: bytes, name: str = "1700000000000.jpg", **kwargs) -> ImageFacts:
        path = tmp_path / "upload.tmp"  # the temporary file's own name says nothing
        path.write_bytes(data)
        return inspect_image(path, declared_name=name, **kwargs)

    return run


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def thumbnail_of(facts: ImageFacts) -> Image.Image:
    image = Image.open(io.BytesIO(facts.thumbnail))
    image.load()
    return image


# --- accepted, and what is read -----------------------------------------------------------------

def test_a_camera_name_longer_than_its_column_is_cut(inspect):
    facts = inspect(jpeg_with_exif(make="M" * 200, model="X" * 200, quality=40))
    assert facts.camera == ("M" * 200 + " " + "X" * 200)[:255]
    assert Attachment.camera.type.length == 255


def test_a_phone_jpeg_gives_its_time_position_camera_and_a_small_thumbnail(inspect):
    taken = datetime(2026, 11, 20, 10, 3, 12, tzinfo=SHANGHAI)
    data = jpeg_with_exif(lat=35.0312, lon=104.7104, taken_at=taken)
    assert 200_000 <= len(data) <= 300_000  # as large as a phone's 1600x1200 photo

    facts = inspect(data)

    assert (facts.format, facts.mime, facts.width, facts.height) == ("JPEG", "image/jpeg", 1600, 1200)
    assert facts.taken_at == datetime(2026, 11, 20, 2, 3, 12, tzinfo=timezone.utc)
    assert facts.taken_at.utcoffset().total_seconds() == 0
    assert facts.latitude == pytest.approx(35.0312, abs=1e-6)
    assert facts.longitude == pytest.approx(104.7104, abs=1e-6)
    assert facts.camera == "Xiaomi Redmi Note 12"
    assert len(facts.phash) == 16 and int(facts.phash, 16) >= 0
    thumb = thumbnail_of(facts)
    assert thumb.format == "JPEG" and thumb.mode == "RGB"
    assert thumb.size == (THUMBNAIL_SIZE, 240)
    assert not thumb.getexif() and "exif" not in thumb.info  # no position or time leaks into thumbnails
    assert len(facts.thumbnail) < 30_000


def test_south_and_west_are_negative(inspect):
    facts = inspect(jpeg_with_exif(lat=-33.8688, lon=-70.6693, width=320, height=240))
    assert facts.latitude == pytest.approx(-33.8688, abs=1e-6)
    assert facts.longitude == pytest.approx(-70.6693, abs=1e-6)


def test_gps_degrees_minutes_seconds_are_converted(inspect):
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (IFDRational(35), IFDRational(1), IFDRational(5232, 100))  # 35°1'52.32"
    gps[ExifTags.GPS.GPSLongitudeRef] = b"E\x00"  # some phones write bytes with a NUL
    gps[ExifTags.GPS.GPSLongitude] = (IFDRational(104), IFDRational(42), IFDRational(3744, 100))
    facts = inspect(encode(photo_image(1, 320, 240), exif=exif))
    assert facts.latitude == pytest.approx(35 + 1 / 60 + 52.32 / 3600, abs=1e-7) == pytest.approx(35.0312, abs=1e-6)
    assert facts.longitude == pytest.approx(104.7104, abs=1e-6)


def test_a_photo_without_exif_is_accepted_with_nothing_read(inspect):
    facts = inspect(encode(photo_image(2, 640, 480), quality=80))
    assert facts.format == "JPEG"
    assert (facts.taken_at, facts.latitude, facts.longitude, facts.camera) == (None, None, None, None)


def test_exif_time_without_offset_is_read_in_the_local_zone(inspect):
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:20 10:03:12"
    data = encode(photo_image(3, 320, 240), exif=exif)
    assert inspect(data).taken_at == datetime(2026, 11, 20, 2, 3, 12, tzinfo=timezone.utc)  # Asia/Shanghai
    assert inspect(data, local_tz="UTC").taken_at == datetime(2026, 11, 20, 10, 3, 12, tzinfo=timezone.utc)


def test_an_explicit_offset_wins_over_the_local_zone(inspect):
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2026:11:20 10:03:12"
    details[ExifTags.Base.OffsetTimeOriginal] = "+06:00"  # a phone still set to Urumqi time
    facts = inspect(encode(photo_image(3, 320, 240), exif=exif))
    assert facts.taken_at == datetime(2026, 11, 20, 4, 3, 12, tzinfo=timezone.utc)



@pytest.mark.parametrize("taken, offset, expected", [
    ("9999:12:31 20:00:00", "-02:00", None),  # 22:00 UTC: its Beijing time is past year 9999 (the checks failed)
    ("0001:01:01 08:00:00", "+08:00", None),
    ("1899:12:31 12:00:00", "+00:00", None),
    ("1970:01:01 08:00:05", None, datetime(1970, 1, 1, 0, 0, 5, tzinfo=timezone.utc)),  # a reset clock: kept
])
def test_an_exif_time_off_the_calendar_is_no_time(inspect, taken, offset, expected):
    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    assert inspect(encode(photo_image(3, 320, 240), exif=exif)).taken_at == expected

def test_datetime_is_used_when_datetimeoriginal_is_missing(inspect):
    exif = Image.Exif()
    exif[ExifTags.Base.DateTime] = "2026:11:20 10:03:12"
    facts = inspect(encode(photo_image(3, 320, 240), exif=exif))
    assert facts.taken_at == datetime(2026, 11, 20, 2, 3, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "make, model, camera",
    [("Xiaomi", "Xiaomi 13", "Xiaomi 13"), ("HUAWEI", "ELS-AN00", "HUAWEI ELS-AN00"), (None, "ELS-AN00", "ELS-AN00"),
     ("  OPPO\x00", None, "OPPO"), (None, None, None)],
)
def test_camera_is_make_and_model_without_repetition(inspect, make, model, camera):
    assert inspect(jpeg_with_exif(width=64, height=48, make=make, model=model)).camera == camera


def test_malformed_exif_costs_the_bad_tags_never_the_photo(inspect):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 9  # no such orientation
    exif[ExifTags.Base.Make] = "Xiaomi"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "0000:00:00 00:00:00"
    details[ExifTags.Base.OffsetTimeOriginal] = "garbage"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (IFDRational(35, 0), IFDRational(1), IFDRational(0))  # n/0
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (IFDRational(104), IFDRational(0), IFDRational(0))
    facts = inspect(encode(photo_image(4, 320, 240), exif=exif))
    assert (facts.taken_at, facts.latitude, facts.longitude) == (None, None, None)
    assert facts.camera == "Xiaomi"
    assert thumbnail_of(facts).size == (320, 240)  # orientation 9 ignored


@pytest.mark.parametrize(
    "latitude, latitude_ref",
    [
        ((IFDRational(95), IFDRational(0), IFDRational(0)), "N"),  # beyond the pole
        ((IFDRational(35), IFDRational(75), IFDRational(0)), "N"),  # 75 minutes
        ((IFDRational(35), IFDRational(1), IFDRational(0)), ""),  # no hemisphere: the sign is a guess
        ((IFDRational(35), IFDRational(1), IFDRational(0), IFDRational(0)), "N"),  # four numbers
        ((IFDRational(0), IFDRational(0), IFDRational(0)), "N"),  # 0,0: written when there was no fix
    ],
)
def test_an_unusable_gps_position_is_ignored(inspect, latitude, latitude_ref):
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = latitude_ref
    gps[ExifTags.GPS.GPSLatitude] = latitude
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (
        (IFDRational(0), IFDRational(0), IFDRational(0)) if latitude[0] == 0 else (IFDRational(104), IFDRational(0), IFDRational(0))
    )
    facts = inspect(encode(photo_image(4, 160, 120), exif=exif))
    assert (facts.latitude, facts.longitude) == (None, None)


def test_a_garbage_exif_block_is_ignored(inspect):
    data = encode(photo_image(5, 320, 240), exif=b"Exif\x00\x00" + bytes(range(256)) * 4)
    facts = inspect(data)
    assert (facts.taken_at, facts.latitude, facts.camera) == (None, None, None)


def test_orientation_is_applied_to_the_thumbnail(inspect):
    # A portrait photo as phones store it: landscape pixels and Orientation 6 (rotate 90° clockwise).
    facts = inspect(jpeg_with_exif(width=1600, height=1200, orientation=6, seed=7))
    assert (facts.width, facts.height) == (1600, 1200)  # as stored
    assert thumbnail_of(facts).size == (240, 320)  # as seen: portrait


def test_the_hash_sees_the_picture_upright(inspect):
    """The same photo saved upright by another app (pixels rotated, Orientation 1) is the same picture."""
    stored = photo_image(7, 800, 600)
    tagged = inspect(jpeg_with_exif(width=800, height=600, orientation=6, seed=7))
    upright = inspect(encode(stored.transpose(Image.Transpose.ROTATE_270), quality=85))
    assert phash_distance(tagged.phash, upright.phash) <= 2
    assert phash_distance(tagged.phash, inspect(jpeg_with_exif(width=800, height=600, seed=7)).phash) > SIMILAR_PHASH_DISTANCE


def test_a_signature_png_is_accepted_and_its_thumbnail_is_white(inspect):
    facts = inspect(png_signature(0), "1700000000123.png")
    assert (facts.format, facts.mime, facts.width, facts.height) == ("PNG", "image/png", 800, 400)
    assert (facts.taken_at, facts.latitude, facts.camera) == (None, None, None)
    thumb = thumbnail_of(facts)
    assert thumb.size == (320, 160)
    assert min(thumb.getpixel((2, 2))) > 245


def test_a_transparent_png_gets_a_white_not_black_thumbnail(inspect):
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))  # transparent black, as some apps save
    image.paste((0, 0, 0, 255), (100, 90, 300, 110))
    thumb = thumbnail_of(inspect(encode(image, "PNG"), "sig.png"))
    assert min(thumb.getpixel((5, 5))) > 245
    assert max(thumb.getpixel((160, 80))) < 60  # the stroke is still black


def test_a_palette_and_a_grey_png_are_accepted(inspect):
    assert inspect(encode(photo_image(6, 200, 150).convert("P"), "PNG"), "a.png").format == "PNG"
    assert inspect(encode(photo_image(6, 200, 150).convert("L"), "PNG"), "b.PNG").format == "PNG"


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_a_webp_is_accepted(inspect):
    facts = inspect(encode(photo_image(8, 400, 300), "WEBP", quality=80), "1700000000000.webp")
    assert (facts.format, facts.mime, facts.width, facts.height) == ("WEBP", "image/webp", 400, 300)


def test_a_multi_picture_jpeg_is_a_jpeg(inspect):
    # Android "Ultra HDR" and depth photos carry a second image; Pillow calls them MPO.
    first, second = photo_image(9, 400, 300), photo_image(10, 200, 150)
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    facts = inspect(buffer.getvalue(), "1700000000000.jpg")
    assert (facts.format, facts.mime, facts.width) == ("JPEG", "image/jpeg", 400)


# --- refused, and why ---------------------------------------------------------------------------

def test_a_png_named_jpg_is_refused(inspect):
    with pytest.raises(ImageRefused, match=r"named \.jpg but is really a PNG"):
        inspect(png_signature(0), "1700000000000.jpg")


def test_a_jpeg_named_png_is_refused(inspect):
    with pytest.raises(ImageRefused, match=r"named \.png but is really a JPEG"):
        inspect(jpeg_with_exif(width=64, height=48), "sig.png")


def test_a_text_file_named_jpg_is_refused(inspect):
    with pytest.raises(ImageRefused, match="is not a picture"):
        inspect("这不是照片 not a photo\n".encode() * 50, "1700000000000.jpg")


def test_an_empty_file_is_refused(inspect):
    with pytest.raises(ImageRefused, match="empty"):
        inspect(b"", "1700000000000.jpg")


@pytest.mark.parametrize("name", ["scan.pdf", "1700000000000.heic", "photo", "audit.csv"])
def test_other_file_types_are_refused_by_name(inspect, name):
    with pytest.raises(ImageRefused, match="only JPEG, PNG or WebP"):
        inspect(jpeg_with_exif(width=64, height=48), name)


def test_a_gif_is_refused_even_named_jpg(inspect):
    with pytest.raises(ImageRefused, match="is a GIF picture"):
        inspect(encode(photo_image(1, 64, 48), "GIF"), "1700000000000.jpg")


@pytest.mark.parametrize("keep", [0.6, 0.95])
def test_a_truncated_jpeg_is_refused(inspect, keep):
    data = jpeg_with_exif(seed=11)
    with pytest.raises(ImageRefused, match="damaged or incomplete"):
        inspect(data[: int(len(data) * keep)])


def test_a_jpeg_cut_inside_its_header_is_refused(inspect):
    with pytest.raises(ImageRefused, match="damaged|not a picture"):
        inspect(jpeg_with_exif(seed=11)[:300])


def test_a_png_with_a_damaged_chunk_is_refused(inspect):
    data = bytearray(png_signature(3))
    data[data.index(b"IDAT") + 40] ^= 0xFF  # one bit pattern changed inside the image data
    with pytest.raises(ImageRefused, match="damaged"):
        inspect(bytes(data), "sig.png")


def test_a_photo_over_the_pixel_limit_is_refused(inspect):
    with pytest.raises(ImageRefused, match=r"1600 x 1200 pixels .* more than the 1 million"):
        inspect(jpeg_with_exif(seed=12), max_pixels=1_000_000)


def png_header_only(width: int, height: int) -> bytes:
    """A few hundred bytes claiming to be a huge PNG: nothing may decode it to find out."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_a_png_claiming_a_huge_size_is_refused_before_decoding(inspect):
    with pytest.raises(ImageRefused, match=r"8000 x 6000 pixels \(48 million\), more than the 40 million"):
        inspect(png_header_only(8000, 6000), "sig.png")


@pytest.mark.parametrize("size", [(10_000, 10_000), (30_000, 30_000)])
@pytest.mark.parametrize("warning_filter", ["error", "ignore"])
def test_pillow_decompression_bomb_limits_hold_even_with_a_larger_max_pixels(inspect, size, warning_filter):
    # 100 million pixels is over Pillow's warning limit (89 million), 900 million over its error
    # limit; whether the warning is an error or silenced, the answer is a refusal.
    with warnings.catch_warnings():
        warnings.simplefilter(warning_filter)
        with pytest.raises(ImageRefused, match="pixels|unsafe"):
            inspect(png_header_only(*size), "sig.png", max_pixels=10**12)


# --- perceptual hash ----------------------------------------------------------------------------

def test_phash_distance_counts_differing_bits():
    assert phash_distance("0000000000000000", "ffffffffffffffff") == 64
    assert phash_distance("8000000000000001", "0000000000000000") == 2
    assert phash_distance("0123456789abcdef", "0123456789abcdef") == 0


def test_the_same_pixels_with_other_exif_hash_the_same(inspect):
    one = inspect(jpeg_with_exif(seed=13, lat=35.0, lon=104.0, width=800, height=600))
    other = inspect(jpeg_with_exif(seed=13, lat=36.0, lon=103.0, model="Mi 10", width=800, height=600))
    assert one.phash == other.phash


TRANSFORMS = {
    "re-encoded at quality 60": lambda im: encode(im, quality=60),
    "re-encoded at quality 30": lambda im: encode(im, quality=30),
    "re-encoded at quality 95": lambda im: encode(im, quality=95),
    "halved": lambda im: encode(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
    "10 % brighter": lambda im: encode(ImageEnhance.Brightness(im).enhance(1.1)),
    "10 % darker": lambda im: encode(ImageEnhance.Brightness(im).enhance(0.9)),
    "10 % more contrast": lambda im: encode(ImageEnhance.Contrast(im).enhance(1.1)),
    "halved, brighter, quality 60": lambda im: encode(
        ImageEnhance.Brightness(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)).enhance(1.1),
        quality=60,
    ),
}


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_the_hash_survives_recompression_resizing_and_brightness(inspect, transform):
    # Measured over seeds 0-39: at most 4 bits for every transform here (mean below 1).
    distances = []
    for seed in range(6):
        original = jpeg_with_exif(seed=seed)
        image = Image.open(io.BytesIO(original))
        image.load()
        distances.append(phash_distance(inspect(original).phash, inspect(TRANSFORMS[transform](image)).phash))
    assert max(distances) <= 4, distances
    assert max(distances) <= SIMILAR_PHASH_DISTANCE


def test_a_slightly_cropped_copy_is_still_within_the_threshold(inspect):
    # Cutting 2.5 % off every edge is the hardest case measured: up to 10 bits over 40 seeds.
    distances = []
    for seed in range(6):
        original = jpeg_with_exif(seed=seed)
        image = Image.open(io.BytesIO(original))
        cropped = encode(image.crop((40, 30, 1560, 1170)))
        distances.append(phash_distance(inspect(original).phash, inspect(cropped).phash))
    assert max(distances) <= SIMILAR_PHASH_DISTANCE, distances


def test_different_photos_are_far_apart(inspect):
    # Measured over 40 photos (780 pairs): 16 to 42 bits, mean 31.
    hashes = [inspect(jpeg_with_exif(seed=seed, width=800, height=600)).phash for seed in range(16)]
    distances = [phash_distance(a, b) for a, b in itertools.combinations(hashes, 2)]
    assert min(distances) >= 14, sorted(distances)[:5]
    assert min(distances) > SIMILAR_PHASH_DISTANCE + 3
    assert 26 <= sum(distances) / len(distances) <= 38


def test_different_signatures_are_not_taken_for_the_same_picture(inspect):
    hashes = [inspect(png_signature(seed), "s.png").phash for seed in range(8)]
    assert min(phash_distance(a, b) for a, b in itertools.combinations(hashes, 2)) > SIMILAR_PHASH_DISTANCE


def test_a_large_photo_is_decoded_at_reduced_scale(inspect, monkeypatch):
    """draft() makes libjpeg decode at 1/2-1/8 scale: a 4000x3000 photo never becomes 36 MB of pixels."""
    sizes = []
    original_load = ImageFile.ImageFile.load

    def spy(self):
        result = original_load(self)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    facts = inspect(jpeg_with_exif(width=4000, height=3000, seed=14, quality=60))
    assert (facts.width, facts.height) == (4000, 3000)
    assert max(w * h for w, h in sizes) <= 1000 * 750
