"""semcodec: semantic-aware video encoding on real FFmpeg encoders.

The entry points load lazily (importing semcodec stays cheap for the CLI's --help):
`semcodec.encode(input, output, EncodeSettings(...))`, `semcodec.EncodeSettings`."""

__version__ = "0.1.0"

__all__ = ["EncodeSettings", "encode", "__version__"]


def encode(input_path: str, output_path: str, settings=None, execution=None) -> dict:
    """Encode `input_path` to `output_path` (semcodec.pipeline.encode), resolving
    `settings.keyframes_from='auto'` first: the video is tagged and its shot plan passed in.

    Args:
        settings: a semcodec.EncodeSettings (default: x264 CRF 23, ROI auto).
        execution: a semcodec.pipeline.Execution (threads, audio copy, progress bars); default silent.

    Returns:
        The encode report; with 'auto', timings.tagging_s holds the tagging time (also in total_s).

    Raises:
        UsageError, SemcodecError: as semcodec.pipeline.encode and semcodec.tagging.tag_video."""
    import time

    from semcodec import pipeline

    settings = settings or pipeline.EncodeSettings()
    execution = execution or pipeline.Execution()
    if settings.keyframes_from != "auto":
        return pipeline.encode(input_path, output_path, settings, execution=execution)
    from semcodec.tagging.tagger import plan_from_video

    settings.validate()  # a bad option fails before the tagging pass
    t0 = time.perf_counter()
    plan = plan_from_video(input_path, settings.codec, progress=execution.progress)
    tagging_s = time.perf_counter() - t0
    report = pipeline.encode(input_path, output_path, settings, plan=plan, execution=execution)
    report["timings"]["tagging_s"] = round(tagging_s, 3)
    report["timings"]["total_s"] = round(report["timings"]["total_s"] + tagging_s, 3)
    return report


def __getattr__(name: str):
    if name == "EncodeSettings":
        from semcodec import pipeline

        return pipeline.EncodeSettings
    raise AttributeError(f"module 'semcodec' has no attribute {name!r}")
