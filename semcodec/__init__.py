"""semcodec: semantic-aware video encoding on real FFmpeg encoders.

The entry points load lazily (importing semcodec stays cheap for the CLI's --help):
`semcodec.encode(input, output, EncodeSettings(...))`, `semcodec.EncodeSettings`."""

__version__ = "0.1.0"

__all__ = ["EncodeSettings", "encode", "__version__"]


def __getattr__(name: str):
    if name in ("encode", "EncodeSettings"):
        from semcodec import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'semcodec' has no attribute {name!r}")
