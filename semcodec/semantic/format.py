"""The `.semz` container: reader and writer. Layout and field meanings: docs/semz-format.md.

    magic (8) | version major, minor (1+1) | flags (2) | chunks ... | "END " chunk (SHA-256 of all before)
    chunk = tag (4 ASCII) | length (u32 LE) | payload | CRC32 of tag+payload (u32 LE)

The first chunk is "HEAD" (zlib-compressed UTF-8 JSON: video, shots, captions, guides, regions);
"GIMG" chunks hold guide images (WebP/AVIF/JPEG), "PIXL" chunks pixel-fallback segments (MP4 bytes).

The reader is written for hostile input: every length is checked against the bytes that remain and
against fixed caps before anything is read or allocated, the JSON is decompressed with a size cap and
validated field by field, and every failure is a SemcodecError with a one-line reason.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

from semcodec.errors import SemcodecError

MAGIC = b"SEMZ\r\n\x1a\n"
VERSION = (1, 0)
SCHEMA = "semcodec.semz/1"

# caps: a valid file never comes near these; a hostile one cannot make the reader exceed them
MAX_FILE_BYTES = 2 << 30
MAX_CHUNKS = 1 << 20
MAX_HEADER_JSON = 8 << 20  # decompressed header
MAX_DIM = 16384
MAX_FRAMES = 50_000_000
MAX_SHOTS = 1_000_000
MAX_CAPTION_CHARS = 2000
MAX_REGIONS = 256
MAX_GUIDES_PER_SHOT = 256
MAX_GUIDE_DIM = 2048
MAX_LABEL_CHARS = 64
GUIDE_CODECS = {"webp": "WEBP", "avif": "AVIF", "jpeg": "JPEG"}
KNOWN_CHUNKS = {b"HEAD", b"GIMG", b"PIXL", b"END "}
_HDR = struct.Struct("<8sBBH")
_CHUNK = struct.Struct("<4sI")


@dataclass
class Guide:
    frame: int  # frame the guide shows (0-based, absolute)
    chunk: int  # index of its GIMG chunk among the GIMG chunks
    data: bytes = b""


@dataclass
class Region:
    label: str
    box: tuple  # x0, y0, x1, y1 normalised to [0, 1]


@dataclass
class ShotEntry:
    start: int  # first frame
    end: int  # exclusive
    caption: str
    scene: str = "other"
    guides: list = field(default_factory=list)  # [Guide]
    regions: list = field(default_factory=list)  # [Region]
    pixels: int | None = None  # index of its PIXL chunk among the PIXL chunks
    pixel_data: bytes = b""
    psnr: float | None = None  # Y-PSNR of the offline reconstruction measured by the encoder


@dataclass
class SemzFile:
    width: int
    height: int
    fps: Fraction
    frames: int
    guide_codec: str
    guide_width: int
    guide_height: int
    shots: list  # [ShotEntry]
    duration_s: float = 0.0  # of the source, as probed (frames / fps is the decoded duration)
    encoder: str = ""
    captioner: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def duration(self) -> Fraction:
        return self.frames / self.fps

# --------------------------------------------------------------------------- writing


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return _CHUNK.pack(tag, len(payload)) + payload + struct.pack("<I", zlib.crc32(tag + payload))


def header_json(f: SemzFile) -> dict:
    shots = []
    for s in f.shots:
        d = {"start": s.start, "end": s.end, "caption": s.caption, "scene": s.scene,
             "guides": [[g.frame, g.chunk] for g in s.guides]}
        if s.regions:
            d["regions"] = [[r.label, *[round(float(v), 3) for v in r.box]] for r in s.regions]
        if s.pixels is not None:
            d["pixels"] = s.pixels
        if s.psnr is not None:
            d["psnr"] = round(float(s.psnr), 2)
        shots.append(d)
    return {"schema": SCHEMA, "encoder": f.encoder, "captioner": f.captioner,
            "video": {"width": f.width, "height": f.height, "fps": [f.fps.numerator, f.fps.denominator],
                      "frames": f.frames, "duration_s": round(float(f.duration_s), 4)},
            "guide": {"codec": f.guide_codec, "width": f.guide_width, "height": f.guide_height},
            "shots": shots, **({"extra": f.extra} if f.extra else {})}


def pack(f: SemzFile, header: dict | None = None) -> bytes:
    """Serialise. `header` overrides the JSON (tests use it to write hostile headers validly framed)."""
    head = header if header is not None else header_json(f)
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    out = bytearray(_HDR.pack(MAGIC, *VERSION, 0))
    out += _chunk(b"HEAD", zlib.compress(text, 9))
    guides = sorted((g for s in f.shots for g in s.guides), key=lambda g: g.chunk)
    for g in guides:
        out += _chunk(b"GIMG", g.data)
    for s in sorted((s for s in f.shots if s.pixels is not None), key=lambda s: s.pixels):
        out += _chunk(b"PIXL", s.pixel_data)
    out += _chunk(b"END ", hashlib.sha256(bytes(out)).digest())
    return bytes(out)


def write(path: str, f: SemzFile) -> int:
    from semcodec.io.writer import atomic_output

    data = pack(f)
    folder = __import__("os").path.dirname(__import__("os").path.abspath(path))
    if not __import__("os").path.isdir(folder):
        raise SemcodecError(f"output folder does not exist: {folder}")
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return len(data)


# --------------------------------------------------------------------------- reading


def _bad(msg: str) -> SemcodecError:
    return SemcodecError(f"not a valid .semz file: {msg}")


def split_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Check magic, version, framing, CRCs and the final SHA-256; return [(tag, payload)] without END."""
    if len(data) < _HDR.size:
        raise _bad(f"file is {len(data)} bytes, shorter than the {_HDR.size}-byte signature")
    magic, major, minor, _flags = _HDR.unpack_from(data, 0)
    if magic != MAGIC:
        raise _bad("wrong signature (not a semcodec semantic file)")
    if major != VERSION[0]:
        raise _bad(f"format version {major}.{minor} is not supported (this reader reads {VERSION[0]}.x)")
    pos, chunks = _HDR.size, []
    mv = memoryview(data)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise _bad(f"more than {MAX_CHUNKS} chunks")
        remaining = len(data) - pos
        if remaining < _CHUNK.size + 4:
            raise _bad(f"truncated at byte {pos}: no room for a chunk (missing END chunk)")
        tag, length = _CHUNK.unpack_from(data, pos)
        if length > remaining - _CHUNK.size - 4:
            raise _bad(f"truncated: chunk {tag!r} at byte {pos} declares {length} bytes, "
                       f"{max(remaining - _CHUNK.size - 4, 0)} remain")
        start = pos + _CHUNK.size
        payload = bytes(mv[start:start + length])
        (crc,) = struct.unpack_from("<I", data, start + length)
        if zlib.crc32(tag + payload) != crc:
            raise _bad(f"checksum mismatch in chunk {tag!r} at byte {pos} (corrupt file)")
        if tag == b"END ":
            if length != 32 or hashlib.sha256(mv[:pos]).digest() != payload:
                raise _bad("SHA-256 of the file does not match its END chunk (corrupt file)")
            if start + length + 4 != len(data):
                raise _bad(f"{len(data) - start - length - 4} unexpected bytes after the END chunk")
            return chunks
        if tag not in KNOWN_CHUNKS and not tag[:1].islower():
            raise _bad(f"unknown critical chunk {tag!r}")
        chunks.append((tag, payload))
        pos = start + length + 4


def _inflate(payload: bytes) -> dict:
    d = zlib.decompressobj()
    try:
        text = d.decompress(payload, MAX_HEADER_JSON)
        if d.unconsumed_tail:
            raise _bad(f"header is larger than {MAX_HEADER_JSON} bytes uncompressed")
        text += d.flush(1024)
        if not d.eof:
            raise _bad("header is truncated (incomplete zlib stream)")
    except zlib.error as exc:
        raise _bad(f"header does not decompress: {exc}") from None
    if len(text) > MAX_HEADER_JSON:
        raise _bad(f"header is larger than {MAX_HEADER_JSON} bytes uncompressed")
    try:
        head = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(f"header is not UTF-8 JSON ({type(exc).__name__})") from None
    if not isinstance(head, dict):
        raise _bad("header is not a JSON object")
    return head


def _int(v, name: str, lo: int, hi: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(f"{name} must be an integer in [{lo}, {hi}], got {str(v)[:40]!r}")
    return v


def _num(v, name: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise _bad(f"{name} must be a number in [{lo}, {hi}], got {str(v)[:40]!r}")
    return float(v)


def _str(v, name: str, cap: int) -> str:
    if not isinstance(v, str) or len(v) > cap:
        raise _bad(f"{name} must be a string of at most {cap} characters")
    return v


def _obj(v, name: str) -> dict:
    if not isinstance(v, dict):
        raise _bad(f"{name} must be an object")
    return v


def _list(v, name: str, cap: int) -> list:
    if not isinstance(v, list) or len(v) > cap:
        raise _bad(f"{name} must be a list of at most {cap} entries")
    return v


def _parse_video(v: dict) -> tuple[int, int, Fraction, int, float]:
    """(width, height, fps, frames, duration_s) of the header's `video` object."""
    width = _int(v.get("width"), "video.width", 2, MAX_DIM)
    height = _int(v.get("height"), "video.height", 2, MAX_DIM)
    fps_l = _list(v.get("fps"), "video.fps", 2)
    if len(fps_l) != 2:
        raise _bad("video.fps must be [numerator, denominator]")
    fps = Fraction(_int(fps_l[0], "fps numerator", 1, 1_000_000), _int(fps_l[1], "fps denominator", 1, 1_000_000))
    if not Fraction(1, 1000) <= fps <= 1000:
        raise _bad(f"frame rate {float(fps):g} is outside [0.001, 1000]")
    frames = _int(v.get("frames"), "video.frames", 1, MAX_FRAMES)
    duration_s = _num(v.get("duration_s", 0.0), "video.duration_s", 0.0, 1e9)
    return width, height, fps, frames, duration_s


def _parse_guides(entry: ShotEntry, guides: list, i: int, images: list, used_img: set) -> None:
    """shots[i].guides: [frame, chunk] pairs, frames inside the shot and increasing, each image used once."""
    for k, gj in enumerate(guides):
        gj = _list(gj, f"shots[{i}].guides[{k}]", 2)
        if len(gj) != 2:
            raise _bad(f"shots[{i}].guides[{k}] must be [frame, chunk]")
        fr = _int(gj[0], f"shots[{i}].guides[{k}] frame", entry.start, entry.end - 1)
        ci = _int(gj[1], f"shots[{i}].guides[{k}] chunk", 0, len(images) - 1 if images else -1)
        if ci in used_img:
            raise _bad(f"guide image {ci} is referenced twice")
        used_img.add(ci)
        entry.guides.append(Guide(fr, ci, images[ci]))
    if [gd.frame for gd in entry.guides] != sorted({gd.frame for gd in entry.guides}):
        raise _bad(f"shots[{i}].guides must be in increasing frame order")


def _parse_shot(sj, i: int, expect: int, frames: int, images: list, pixels: list, used_img: set,
                used_pix: set) -> ShotEntry:
    """shots[i], which must start at frame `expect` (shots tile the video)."""
    sj = _obj(sj, f"shots[{i}]")
    start = _int(sj.get("start"), f"shots[{i}].start", 0, frames - 1)
    end = _int(sj.get("end"), f"shots[{i}].end", start + 1, frames)
    if start != expect:
        raise _bad(f"shots[{i}] starts at frame {start}, expected {expect} (shots must tile the video)")
    entry = ShotEntry(start, end, _str(sj.get("caption", ""), f"shots[{i}].caption", MAX_CAPTION_CHARS),
                      _str(sj.get("scene", "other"), f"shots[{i}].scene", MAX_LABEL_CHARS))
    _parse_guides(entry, _list(sj.get("guides", []), f"shots[{i}].guides", MAX_GUIDES_PER_SHOT), i, images,
                  used_img)
    for k, rj in enumerate(_list(sj.get("regions", []), f"shots[{i}].regions", MAX_REGIONS)):
        rj = _list(rj, f"shots[{i}].regions[{k}]", 5)
        if len(rj) != 5:
            raise _bad(f"shots[{i}].regions[{k}] must be [label, x0, y0, x1, y1]")
        box = tuple(_num(x, f"shots[{i}].regions[{k}] coordinate", 0.0, 1.0) for x in rj[1:])
        entry.regions.append(Region(_str(rj[0], "region label", MAX_LABEL_CHARS), box))
    if sj.get("pixels") is not None:
        pi = _int(sj["pixels"], f"shots[{i}].pixels", 0, len(pixels) - 1 if pixels else -1)
        if pi in used_pix:
            raise _bad(f"pixel segment {pi} is referenced twice")
        used_pix.add(pi)
        entry.pixels, entry.pixel_data = pi, pixels[pi]
    if sj.get("psnr") is not None:
        entry.psnr = _num(sj["psnr"], f"shots[{i}].psnr", 0.0, 1000.0)
    if not entry.guides and entry.pixels is None:
        raise _bad(f"shots[{i}] has neither a guide image nor a pixel segment")
    return entry


def parse(data: bytes) -> SemzFile:
    """Parse and validate a whole .semz file held in memory."""
    if not isinstance(data, (bytes, bytearray)):
        raise _bad("expected bytes")
    if len(data) > MAX_FILE_BYTES:
        raise _bad(f"file is larger than {MAX_FILE_BYTES} bytes")
    chunks = split_chunks(bytes(data))
    if not chunks or chunks[0][0] != b"HEAD":
        raise _bad("first chunk is not HEAD")
    if any(t == b"HEAD" for t, _ in chunks[1:]):
        raise _bad("more than one HEAD chunk")
    head = _inflate(chunks[0][1])
    images = [p for t, p in chunks if t == b"GIMG"]
    pixels = [p for t, p in chunks if t == b"PIXL"]
    if head.get("schema") != SCHEMA:
        raise _bad(f"schema is {str(head.get('schema'))[:40]!r}, expected {SCHEMA!r}")
    width, height, fps, frames, duration_s = _parse_video(_obj(head.get("video"), "video"))
    g = _obj(head.get("guide"), "guide")
    codec = g.get("codec")
    if not isinstance(codec, str) or codec not in GUIDE_CODECS:
        raise _bad(f"guide.codec must be one of {sorted(GUIDE_CODECS)}")
    gw = _int(g.get("width"), "guide.width", 1, MAX_GUIDE_DIM)
    gh = _int(g.get("height"), "guide.height", 1, MAX_GUIDE_DIM)
    shots_json = _list(head.get("shots"), "shots", min(MAX_SHOTS, frames))
    if not shots_json:
        raise _bad("no shots")
    shots, expect, used_img, used_pix = [], 0, set(), set()
    for i, sj in enumerate(shots_json):
        shots.append(_parse_shot(sj, i, expect, frames, images, pixels, used_img, used_pix))
        expect = shots[-1].end
    if expect != frames:
        raise _bad(f"shots cover {expect} frames, video has {frames}")
    if len(used_img) != len(images) or len(used_pix) != len(pixels):
        raise _bad("unreferenced image or pixel chunks")
    extra = head.get("extra", {})
    return SemzFile(width, height, fps, frames, codec, gw, gh, shots, duration_s,
                    _str(head.get("encoder", ""), "encoder", 200), _str(head.get("captioner", ""), "captioner", 500),
                    _obj(extra, "extra"))


def read(path: str) -> SemzFile:
    import os

    if not os.path.exists(path):
        raise SemcodecError(f"input not found: {path}")
    if os.path.isdir(path):
        raise SemcodecError(f"input is a folder, not a .semz file: {path}")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise _bad(f"file is larger than {MAX_FILE_BYTES} bytes")
    with open(path, "rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    return parse(data)


def decode_guide(f: SemzFile, g: Guide):
    """The guide image as an RGB uint8 array (guide_height, guide_width, 3); checks its size and codec
    from the image header before Pillow decodes any pixels."""
    import numpy as np
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(g.data), formats=[GUIDE_CODECS[f.guide_codec]])
        if im.size != (f.guide_width, f.guide_height):
            raise _bad(f"guide image for frame {g.frame} is {im.size[0]}x{im.size[1]}, header says "
                       f"{f.guide_width}x{f.guide_height}")
        im.load()
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except SemcodecError:
        raise
    except Exception as exc:  # Pillow raises many types on hostile data
        raise _bad(f"guide image for frame {g.frame} does not decode as {f.guide_codec} "
                   f"({type(exc).__name__})") from None
    if rgb.shape != (f.guide_height, f.guide_width, 3):
        raise _bad(f"guide image for frame {g.frame} decoded to shape {rgb.shape}")
    return rgb


def encode_guide(rgb, codec: str, quality: int) -> bytes:
    from PIL import Image

    im = Image.fromarray(rgb)
    buf = io.BytesIO()
    if codec == "webp":
        im.save(buf, format="WEBP", quality=quality, method=6)
    elif codec == "avif":
        im.save(buf, format="AVIF", quality=quality, speed=4)
    elif codec == "jpeg":
        im.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        raise SemcodecError(f"unknown guide codec {codec}: use webp, avif or jpeg")
    return buf.getvalue()


def guide_codecs_available() -> list[str]:
    from PIL import features

    return [c for c, feat in (("webp", "webp"), ("avif", "avif"), ("jpeg", "jpg")) if features.check(feat)]
