"""The bytes of an attachment (pure: no database): the type from the content (never the name),
size and pixel limits, the EXIF location as a suggestion, images re-encoded without EXIF or
other metadata (upright by their EXIF orientation), a JPEG thumbnail, the SHA-256 of what is
stored."""
from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass

from gis.errors import TooLarge, UnprocessableError

MAX_FILE_BYTES = 10 * 2**20   # per file
MAX_FILES = 9                 # per incident
MAX_PIXELS = 40_000_000       # per image, all frames together (decompression bombs)
MAX_FRAMES = 200              # animated GIF / WebP
THUMB_SIDE = 320              # thumbnail: longest side, pixels
MAX_NAME = 120

# detected type: (kind, content type, Pillow format or None, file name suffixes)
TYPES = {
    "jpeg": ("photo", "image/jpeg", "JPEG", (".jpg", ".jpeg")),
    "png": ("photo", "image/png", "PNG", (".png",)),
    "webp": ("photo", "image/webp", "WEBP", (".webp",)),
    "gif": ("photo", "image/gif", "GIF", (".gif",)),
    "pdf": ("document", "application/pdf", None, (".pdf",)),
}
KINDS = ("photo", "document")
ACCEPTED = "JPEG, PNG, WebP, GIF images and PDF documents"
# what a re-encoded image keeps of its metadata: colour and animation, nothing about the sender
KEEP_INFO = ("icc_profile", "transparency", "duration", "loop", "background")
GPS_IFD = 0x8825


@dataclass(frozen=True)
class Prepared:
    """An attachment ready to store. gps: (lon, lat) in WGS84 degrees from the original's
    EXIF, a suggestion only (not in `data`)."""
    kind: str
    filename: str
    content_type: str
    data: bytes
    sha256: str
    thumbnail: bytes | None = None
    width: int | None = None
    height: int | None = None
    gps: tuple[float, float] | None = None

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """The accepted type the magic bytes say (a key of TYPES), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"%PDF-"):
        return "pdf"
    return None


def describe(data: bytes) -> str:
    """What refused content looks like, for the error message."""
    head = data[:512].lstrip().lower()
    if data.startswith(b"MZ"):
        return "a Windows program (MZ)"
    if data.startswith(b"\x7fELF"):
        return "an ELF program"
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or an Office document)"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "a HEIC/HEIF photo (save it as JPEG)"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "a TIFF image"
    if b"<svg" in head:
        return "an SVG image"
    if head.startswith(b"<"):
        return "HTML or XML text"
    return f"unknown content starting with 0x{data[:8].hex()}"


def clean_filename(name: str | None, suffixes: tuple[str, ...]) -> str:
    """The sender's file name without folders or control characters, ending in a suffix of
    its real type."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f\"]", "", base).strip().strip(".") or "attachment"
    if not base.lower().endswith(suffixes):
        base += suffixes[0]
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = stem[:MAX_NAME - len(ext) - 1] + dot + ext
    return base


def check_count(stored: int, adding: int) -> None:
    if adding < 1:
        raise UnprocessableError("send one or more files in the field 'file' "
                                 "(multipart/form-data)", field="file")
    if stored + adding > MAX_FILES:
        raise UnprocessableError(
            f"附件过多 Too many attachments: at most {MAX_FILES} per incident; it has {stored} "
            f"and {adding} were sent; nothing was stored", field="file",
            details={"max": MAX_FILES, "stored": stored, "sent": adding})


def prepare(filename: str | None, data: bytes) -> Prepared:
    """Check one uploaded file and make what is stored of it (UnprocessableError or TooLarge
    naming the file otherwise)."""
    shown = filename or "the file"
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(f"文件过大 {shown} is larger than {MAX_FILE_BYTES // 2**20} MiB",
                       field="file")
    if not data:
        raise UnprocessableError(f"{shown} is empty", field="file")
    found = sniff(data)
    if found is None:
        raise UnprocessableError(
            f"文件类型不支持 {shown}: the content is {describe(data)}; accepted: {ACCEPTED}",
            field="file", details={"filename": filename, "accepted": list(TYPES)})
    kind, content_type, fmt, suffixes = TYPES[found]
    name = clean_filename(filename, suffixes)
    if fmt is None:  # PDF: stored as sent
        return Prepared(kind, name, content_type, data, hashlib.sha256(data).hexdigest())
    clean, thumb, (width, height), gps = _image(data, fmt, shown)
    return Prepared(kind, name, content_type, clean, hashlib.sha256(clean).hexdigest(),
                    thumb, width, height, gps)


def _image(data: bytes, fmt: str, shown: str):
    """(re-encoded bytes, thumbnail JPEG, (width, height), gps) of an image."""
    from PIL import Image, ImageOps, ImageSequence

    try:
        # the header only: the size is checked before any pixel is decoded (Pillow's own
        # Image.MAX_IMAGE_PIXELS check is far above MAX_PIXELS and stays the last guard)
        im = Image.open(io.BytesIO(data), formats=[fmt])
        frames = getattr(im, "n_frames", 1)
        if im.width * im.height * frames > MAX_PIXELS or frames > MAX_FRAMES:
            raise UnprocessableError(
                f"{shown} is too large an image: {im.width}×{im.height} px"
                f"{f' × {frames} frames' if frames > 1 else ''}; at most "
                f"{MAX_PIXELS // 1_000_000} million pixels", field="file")
        gps = exif_location(im)
        if frames == 1:
            im.load()
            images = [ImageOps.exif_transpose(im)]
        else:
            images = [frame.copy() for frame in ImageSequence.Iterator(im)]
        clean = _encode(images, fmt)
        thumb = _thumbnail(images[0])
    except Image.DecompressionBombError:
        raise UnprocessableError(f"{shown} is too large an image (a decompression bomb?)",
                                 field="file")
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UnprocessableError(f"{shown} cannot be read as a {fmt} image ({err})",
                                 field="file")
    return clean, thumb, images[0].size, gps


def _encode(images: list, fmt: str) -> bytes:
    """The frames saved again in their format, without EXIF, XMP, comments or text chunks."""
    for frame in images:
        frame.info = {k: v for k, v in frame.info.items() if k in KEEP_INFO}
    first = images[0]
    opts: dict = {"exif": b""}
    if fmt in ("JPEG", "WEBP"):
        opts["quality"] = 90
    if fmt != "GIF" and first.info.get("icc_profile"):
        opts["icc_profile"] = first.info["icc_profile"]
    if len(images) > 1:
        opts.update(save_all=True, append_images=images[1:], loop=first.info.get("loop", 0),
                    duration=[f.info.get("duration", 100) for f in images])
    out = io.BytesIO()
    first.save(out, format=fmt, **opts)
    return out.getvalue()


def _thumbnail(image) -> bytes:
    from PIL import Image

    thumb = image.copy()
    if thumb.mode in ("P", "PA", "LA", "RGBA") or "transparency" in thumb.info:
        rgba = thumb.convert("RGBA")
        thumb = Image.new("RGB", rgba.size, "white")
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    elif thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    thumb.info = {}
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def exif_location(image) -> tuple[float, float] | None:
    """(lon, lat) in decimal degrees from the image's EXIF GPS tags (WGS84 by the EXIF
    standard), or None when absent or unusable."""
    try:
        gps = image.getexif().get_ifd(GPS_IFD)
        lat = _degrees(gps[2], gps.get(1), "NS")
        lon = _degrees(gps[4], gps.get(3), "EW")
    except Exception:  # malformed EXIF is no reason to refuse a photo
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return round(lon, 7), round(lat, 7)


def _degrees(value, ref, refs: str) -> float:
    parts = [float(v) for v in value] if isinstance(value, (tuple, list)) else [float(value)]
    degrees = sum(p / 60**n for n, p in enumerate(parts[:3]))
    if not math.isfinite(degrees):
        raise ValueError("not a number")
    ref = (ref.decode("ascii", "replace") if isinstance(ref, bytes) else str(ref or ""))
    return -degrees if ref.strip().upper()[:1] == refs[1] else degrees
