"""Semantic compression mode: captions + tiny guide images per shot (`.semz`), regenerated on decode.

    from semcodec.semantic import encode_semantic, decode_semantic
    report = encode_semantic("clip.mp4", "clip.semz", hybrid_threshold=24)
    decode_semantic("clip.semz", "clip_semantic.mp4")

Format: docs/semz-format.md (reader/writer in `semcodec.semantic.format`).
"""
from semcodec.semantic.codec import decode_semantic, encode_semantic

__all__ = ["decode_semantic", "encode_semantic"]
