"""What an encoder's frame costs: CPU milliseconds per frame by codec, preset and frame size, measured on the
reference machine of semcodec.analysis.schedule (x86_64, 2 cores), which weighs the analysis against it."""
from __future__ import annotations

from semcodec.encoding.codecs import CAPABILITIES

# x264 medium, CPU ns per source pixel per frame (his_girl_friday 640x480: 43; QCIF akiyo 47; 720p BBB 40)
X264_MEDIUM_NS_PER_PIXEL = 42.0
# CPU per frame against x264 medium, measured on 100 frames of his_girl_friday (PyAV, one process, 2 cores)
PRESET_COST = {
    "libx264": {"ultrafast": 0.17, "superfast": 0.27, "veryfast": 0.41, "faster": 0.77, "fast": 0.9, "medium": 1.0,
                "slow": 1.41, "slower": 2.47, "veryslow": 5.0, "placebo": 15.0},
    "libx265": {"ultrafast": 1.0, "superfast": 1.2, "veryfast": 1.42, "faster": 1.6, "fast": 1.8, "medium": 2.1,
                "slow": 5.5, "slower": 12.0, "veryslow": 25.0, "placebo": 60.0},
}


def encoder_ms_per_frame(codec: str, preset: str | None, width: int, height: int) -> float:
    """Estimated encoder CPU milliseconds for one frame of this size (reference machine); preset None: the
    codec's default."""
    caps = CAPABILITIES.get(codec)
    preset = str(preset or (caps.default_preset if caps else "medium"))
    if codec in PRESET_COST:
        factor = PRESET_COST[codec].get(preset, 1.0)
    elif codec == "libvpx-vp9":  # realtime mode, cpu-used 5..8: 1.03 at 5, 0.50 at 8
        factor = 1.03 * 0.79 ** (_number(preset, 5) - 5)
    elif codec == "libsvtav1":  # 2.47 at preset 6, 1.41 at 8, 0.76 at 10
        factor = 2.47 * 0.75 ** (_number(preset, 10) - 6)
    else:
        factor = 1.0
    return X264_MEDIUM_NS_PER_PIXEL * 1e-6 * width * height * factor


def _number(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default
