"""Shot boundaries: hard cuts, fades through black and dissolves, frame-exact, streaming.

    from semcodec.shots import ShotDetector, detect_shots
    shots = detect_shots("clip.mp4")              # decode + detect
    det = ShotDetector(fps)                       # or inside an existing decode loop:
    for i, (t, rgb) in enumerate(frames):         #   small RGB frames in decode order
        b = det.push(i, t, rgb)                   #   Boundary at frame i - det.delay, or None
    shots = det.shots(n_frames, end_time)         #   flushes the last det.delay frames
"""
from semcodec.shots.detector import METHODS, TRANSITIONS, Boundary, Params, Shot, ShotDetector
from semcodec.shots.video import detect_shots

__all__ = ["METHODS", "TRANSITIONS", "Boundary", "Params", "Shot", "ShotDetector", "detect_shots"]
