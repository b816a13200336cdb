"""Networks are built once per process and lent out: the same object to the next job, a copy of its own to
a concurrent user, and the same detections either way."""
import threading

import cv2

from conftest import face_frames
from semcodec.analysis import netpool
from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.faces import FaceAnalyzer


def test_lend_reuses_one_object_and_gives_a_concurrent_user_its_own():
    netpool.clear()
    made = []

    def build():
        made.append(object())
        return made[-1]

    with netpool.lend("k", build) as a:
        with netpool.lend("k", build) as b:  # lent at the same time: a second one
            assert a is not b
    with netpool.lend("k", build) as c:
        assert c in (a, b)
    assert len(made) == 2 and netpool.built["k"] == 2


def test_a_failed_block_drops_its_network():
    netpool.clear()
    try:
        with netpool.lend("k", object) as a:
            raise ValueError
    except ValueError:
        pass
    with netpool.lend("k", object) as b:
        assert b is not a


def test_face_jobs_share_one_centerface_and_find_the_same_faces():
    netpool.clear()
    rgb = face_frames(1, (176, 144))[0]
    frame = AnalysisFrame(0, 0.0, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    boxes = []
    for _ in range(3):  # three jobs, one after another: each builds its analyzer
        fa = FaceAnalyzer()
        assert fa.load(), fa.reason
        det = fa.analyze(frame)
        fa.refine(frame, det)
        boxes.append([r.box for r in det.regions])
    assert netpool.built == {("centerface", (128, 96)): 1, ("centerface", (64, 64)): 1}
    assert boxes[0] and boxes[0] == boxes[1] == boxes[2]


def test_threads_running_faces_at_once_each_get_a_net():
    netpool.clear()
    rgb = face_frames(1, (176, 144))[0]
    frame = AnalysisFrame(0, 0.0, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    fa = FaceAnalyzer()
    assert fa.load(), fa.reason
    want = [r.box for r in fa.analyze(frame).regions]
    got, errors = [], []

    def work():
        try:
            for _ in range(5):
                got.append([r.box for r in FaceAnalyzer.analyze(fa, frame).regions])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 15 and all(g == want for g in got)
    assert 1 <= netpool.built[("centerface", (128, 96))] <= 3
