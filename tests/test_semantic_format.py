"""The .semz container: round trip, and a reader that only ever raises SemcodecError on bad input."""
from __future__ import annotations

import json
import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semcodec.errors import SemcodecError
from semcodec.semantic import format as semz


def _sample(codec: str = "webp", pixels: bool = True) -> semz.SemzFile:
    rng = np.random.default_rng(0)
    img = (rng.random((9, 16, 3)) * 255).astype(np.uint8)
    g0 = semz.Guide(3, 0, semz.encode_guide(img, codec, 50))
    g1 = semz.Guide(12, 1, semz.encode_guide(img[::-1].copy(), codec, 50))
    s0 = semz.ShotEntry(0, 10, "a person at the left, mostly blue", "people", [g0],
                        [semz.Region("face", (0.1, 0.2, 0.3, 0.5))], psnr=21.5)
    s1 = semz.ShotEntry(10, 25, "ünïcode caption ✓", "other", [g1])
    shots = [s0, s1]
    if pixels:
        shots.append(semz.ShotEntry(25, 30, "kept as pixels", "other", [], pixels=0, pixel_data=b"\x00\x00\x01\x09xyz"))
    return semz.SemzFile(640, 360, Fraction(30000, 1001), 30, codec, 16, 9, shots, 1.001, "semcodec test", "analyzers")


VALID = semz.pack(_sample())


def _reframe(header: dict, images=(), pixels=()) -> bytes:
    """A file with valid framing and checksums around an arbitrary (hostile) header."""
    text = json.dumps(header).encode()
    out = bytearray(struct.pack("<8sBBH", semz.MAGIC, 1, 0, 0))
    out += semz._chunk(b"HEAD", zlib.compress(text))
    for im in images:
        out += semz._chunk(b"GIMG", im)
    for px in pixels:
        out += semz._chunk(b"PIXL", px)
    import hashlib

    out += semz._chunk(b"END ", hashlib.sha256(bytes(out)).digest())
    return bytes(out)


def _parse_all(data: bytes) -> None:
    f = semz.parse(data)
    for s in f.shots:
        for g in s.guides:
            semz.decode_guide(f, g)


@pytest.mark.parametrize("codec", [c for c in ("webp", "avif", "jpeg") if c in semz.guide_codecs_available()])
def test_round_trip(codec):
    f = _sample(codec)
    data = semz.pack(f)
    g = semz.parse(data)
    assert (g.width, g.height, g.fps, g.frames, g.guide_codec) == (640, 360, Fraction(30000, 1001), 30, codec)
    assert float(g.duration) == pytest.approx(1.001)
    assert [(s.start, s.end) for s in g.shots] == [(0, 10), (10, 25), (25, 30)]
    assert g.shots[1].caption == "ünïcode caption ✓"
    assert g.shots[0].regions[0].label == "face" and g.shots[0].regions[0].box == (0.1, 0.2, 0.3, 0.5)
    assert g.shots[2].pixel_data == b"\x00\x00\x01\x09xyz" and not g.shots[2].guides
    assert semz.decode_guide(g, g.shots[0].guides[0]).shape == (9, 16, 3)
    assert semz.pack(g) == data  # canonical


def test_every_truncation_is_a_clear_error():
    for n in range(len(VALID)):
        with pytest.raises(SemcodecError, match="not a valid .semz file"):
            semz.parse(VALID[:n])


def test_every_single_byte_flip_is_caught():
    for i in range(0, len(VALID), 7):
        bad = bytearray(VALID)
        bad[i] ^= 0x5A
        with pytest.raises(SemcodecError):
            semz.parse(bytes(bad))


def test_huge_declared_length_allocates_nothing():
    head = VALID[:12] + struct.pack("<4sI", b"HEAD", 0xFFFFFFF0) + b"\x00" * 8
    with pytest.raises(SemcodecError, match="declares 4294967280 bytes"):
        semz.parse(head)


def test_zlib_bomb_header_is_refused():
    bomb = zlib.compress(b" " * (semz.MAX_HEADER_JSON + 10), 9)
    out = bytearray(struct.pack("<8sBBH", semz.MAGIC, 1, 0, 0)) + semz._chunk(b"HEAD", bomb)
    import hashlib

    out += semz._chunk(b"END ", hashlib.sha256(bytes(out)).digest())
    assert len(out) < 20000
    with pytest.raises(SemcodecError, match="larger than"):
        semz.parse(bytes(out))


def test_hostile_headers():
    good = semz.header_json(_sample(pixels=False))
    images = [g.data for s in _sample(pixels=False).shots for g in s.guides]
    cases = {
        "deep nesting": "[" * 100000,
        "shots gap": {**good, "shots": [good["shots"][0], {**good["shots"][1], "start": 11}]},
        "frames huge": {**good, "video": {**good["video"], "frames": 10**12}},
        "width zero": {**good, "video": {**good["video"], "width": 0}},
        "fps zero": {**good, "video": {**good["video"], "fps": [0, 1]}},
        "bool as int": {**good, "video": {**good["video"], "width": True}},
        "nan duration": {**good, "video": {**good["video"], "duration_s": float("nan")}},
        "guide chunk missing": {**good, "shots": [{**good["shots"][0], "guides": [[3, 7]]}, good["shots"][1]]},
        "guide reused": {**good, "shots": [good["shots"][0], {**good["shots"][1], "guides": [[12, 0]]}]},
        "guide outside shot": {**good, "shots": [{**good["shots"][0], "guides": [[20, 0]]}, good["shots"][1]]},
        "region out of range": {**good, "shots": [{**good["shots"][0], "regions": [["face", 0, 0, 2, 1]]},
                                                   good["shots"][1]]},
        "caption too long": {**good, "shots": [{**good["shots"][0], "caption": "x" * 5000}, good["shots"][1]]},
        "wrong schema": {**good, "schema": "other/1"},
        "not an object": [1, 2, 3],
        "guide size lie": {**good, "guide": {**good["guide"], "width": 2000, "height": 2000}},
    }
    for head in cases.values():
        data = _reframe(head, images) if not isinstance(head, str) else _reframe({}, images)
        if isinstance(head, str):  # raw JSON text
            out = bytearray(struct.pack("<8sBBH", semz.MAGIC, 1, 0, 0))
            out += semz._chunk(b"HEAD", zlib.compress(head.encode()))
            import hashlib

            out += semz._chunk(b"END ", hashlib.sha256(bytes(out)).digest())
            data = bytes(out)
        with pytest.raises(SemcodecError, match="not a valid .semz file"):
            _parse_all(data)


def test_unknown_version_and_signature():
    with pytest.raises(SemcodecError, match="version 2.0"):
        semz.parse(VALID[:8] + b"\x02\x00" + VALID[10:])
    with pytest.raises(SemcodecError, match="signature"):
        semz.parse(b"RIFF" + VALID[4:])


def test_read_file_errors(tmp_path):
    with pytest.raises(SemcodecError, match="not found"):
        semz.read(str(tmp_path / "missing.semz"))
    with pytest.raises(SemcodecError, match="folder"):
        semz.read(str(tmp_path))


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data):
    for blob in (data, semz.MAGIC + b"\x01\x00\x00\x00" + data):
        try:
            _parse_all(blob)
        except SemcodecError:
            pass


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, len(VALID)))
def test_fuzz_mutated_file(edits, cut):
    bad = bytearray(VALID)
    for pos, val in edits:
        bad[pos] = val
    try:
        _parse_all(bytes(bad[:cut]) if cut < len(VALID) else bytes(bad))
    except SemcodecError:
        pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20)
_good = semz.header_json(_sample())
_paths = [("video", "width"), ("video", "height"), ("video", "fps"), ("video", "frames"), ("video", "duration_s"),
          ("guide", "codec"), ("guide", "width"), ("guide", "height"), ("shots",), ("schema",), ("extra",)]
_shot_keys = ["start", "end", "caption", "scene", "guides", "regions", "pixels", "psnr"]


@FUZZ
@given(st.sampled_from(_paths), _json, st.integers(0, 2), st.sampled_from(_shot_keys), _json, st.binary(max_size=64))
def test_fuzz_hostile_header_values(path, value, shot, key, shot_value, image):
    """Valid framing and checksums, hostile content: the validator, not the CRC, must catch it."""
    head = json.loads(json.dumps(_good))
    node = head
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    if isinstance(head.get("shots"), list) and len(head["shots"]) > shot and isinstance(head["shots"][shot], dict):
        head["shots"][shot][key] = shot_value
    sample = _sample()
    images = [g.data for s in sample.shots for g in s.guides]
    images[0] = image or images[0]
    try:
        _parse_all(_reframe(head, images, [b"\x00\x00\x01\x09xyz"]))
    except SemcodecError:
        pass
