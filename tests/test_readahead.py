"""The encode loop's read-ahead (semcodec.pipeline.loop._Planned): the decoder runs ahead of the encoder while
maps are planned, yet a frame is encoded only once the shot detector has seen `lookahead` frames past it."""
from __future__ import annotations

import time

import av

from conftest import make_cut_clip
from semcodec.pipeline import EncodeSettings, encode, loop
from semcodec.pipeline.keyframes import KeyframePolicy


def test_read_ahead_encodes_a_frame_only_after_the_detector_has_seen_past_it(tmp_path, monkeypatch):
    clip = make_cut_clip(tmp_path / "cuts.mp4", frames=60)
    seen, early, depth = [-1], [], [0]
    observe, is_keyframe, end_pass = KeyframePolicy.observe, KeyframePolicy.is_keyframe, KeyframePolicy.end_pass
    push = loop._Planned.push

    def slow_observe(self, index, t, rgb):
        time.sleep(0.004)  # the detector is the slowest stage: the decoder reads ahead of it
        observe(self, index, t, rgb)
        seen[0] = max(seen[0], index)

    def checked_is_keyframe(self, index):  # the encoder asks, on the main thread
        if self.detecting and seen[0] < index + self.lookahead:
            early.append((index, seen[0]))
        return is_keyframe(self, index)

    def ended(self):
        end_pass(self)
        seen[0] = 1 << 30

    def counted_push(self, frame, index):
        push(self, frame, index)
        depth[0] = max(depth[0], len(self.queue) - self.lag)

    monkeypatch.setattr(KeyframePolicy, "observe", slow_observe)
    monkeypatch.setattr(KeyframePolicy, "is_keyframe", checked_is_keyframe)
    monkeypatch.setattr(KeyframePolicy, "end_pass", ended)
    monkeypatch.setattr(loop._Planned, "push", counted_push)
    rep = encode(clip, str(tmp_path / "out.mp4"), EncodeSettings(crf=26, roi="saliency", crf_rate="extra"))
    assert early == []  # no frame's cut status was asked before the detector had seen far enough past it
    assert depth[0] > 1  # the decoder did read ahead of the encoder
    cuts = rep["shots"]["keyframes_at"]
    assert len(cuts) >= 3
    with av.open(str(tmp_path / "out.mp4")) as c:
        keys = {i for i, f in enumerate(c.decode(video=0)) if f.key_frame}
    assert set(cuts) <= keys  # every cut found is an IDR in the output
