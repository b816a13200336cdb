"""semcodec: semantic-aware video encoding on real FFmpeg encoders."""

__version__ = "0.1.0"
