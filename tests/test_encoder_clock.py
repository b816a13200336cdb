"""The encoder's clock: constant-frame-rate input reaches x264/x265 in frame ticks, as ffmpeg's CLI gives it,
so a `--roi off` two-pass encode is bit-identical to `ffmpeg -pass 1/2` with the same options; variable frame
rate keeps the source clock and its exact timestamps."""
import subprocess
from fractions import Fraction

import av
import imageio_ffmpeg

from conftest import make_clip
from semcodec.encoding.codecs import X264_ASM
from semcodec.io.clock import frame_clock
from semcodec.pipeline import EncodeSettings, encode


def _video(path) -> tuple[bytes, list]:
    with av.open(str(path)) as c:
        packets = [p for p in c.demux(video=0) if p.size]
        return b"".join(bytes(p) for p in packets), sorted(p.pts for p in packets)


def test_constant_rate_mp4_gets_the_frame_tick_clock(tmp_path):
    path = make_clip(tmp_path / "cfr.mp4", frames=10, fps=25)
    with av.open(path) as c:
        tb = c.streams.video[0].time_base
    clock = frame_clock(path)
    assert clock is not None and clock.time_base == tb and clock.encoder_time_base == Fraction(1, 25)
    assert clock.to_source(clock.to_encoder(7 * clock.period + clock.phase)) == 7 * clock.period + clock.phase


def test_variable_rate_keeps_the_source_clock(tmp_path):
    assert frame_clock(make_clip(tmp_path / "vfr.mkv", frames=12, vfr=True)) is None


def test_two_pass_roi_off_is_bit_identical_to_ffmpeg(tmp_path):
    # a 29.97 fps mp4 has a 1/30000 time base: on that clock x264's two-pass takes another path than ffmpeg's
    src = make_clip(tmp_path / "src.mp4", frames=40, size=(176, 144), fps=Fraction(30000, 1001), crf=12)
    ours = tmp_path / "ours.mp4"
    encode(src, str(ours), EncodeSettings(codec="libx264", roi="off", bitrate=60_000, two_pass=True))
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    base = [ff, "-nostdin", "-y", "-v", "error", "-i", src, "-an", "-c:v", "libx264", "-preset", "medium",
            "-b:v", "60000", "-fastfirstpass", "0", "-passlogfile", str(tmp_path / "ff")]
    base += ["-x264-params", f"asm={X264_ASM}"] if X264_ASM else []
    subprocess.run([*base, "-pass", "1", "-f", "null", "-"], check=True, timeout=120)
    subprocess.run([*base, "-pass", "2", str(tmp_path / "ff.mp4")], check=True, timeout=120)
    ours_bytes, ours_pts = _video(ours)
    ff_bytes, _ = _video(tmp_path / "ff.mp4")
    assert ours_bytes == ff_bytes
    assert ours_pts == _video(src)[1]  # the source's timestamps, exactly
