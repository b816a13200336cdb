"""People: a person mask from MediaPipe's selfie segmentation (landscape model, Apache-2.0) on OpenCV DNN.

The model finds whole bodies, seen from behind or with no face at all, where the face detector finds nothing;
faces stay the strongest signal (their weight is higher, and fusion is an OR, so a face inside a body still
gets the face's importance). The .tflite file is taken out of the mediapipe wheel at install time
(semcodec/modelfiles.py); without it the analyzer is unavailable and says why.

People are counted as separate blobs of the mask: people who touch or overlap count as one.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from semcodec.analysis import netpool
from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections, Region
from semcodec.modelfiles import SELFIE_LANDSCAPE, locate

NET_W, NET_H = 256, 144  # the landscape model's input
THRESHOLD = 0.5  # mask probability that counts as person
MIN_PERSON_AREA = 0.003  # a blob under this share of the frame is noise, not a person (about 170 px at 320x180)
# The model was trained on people and marks whatever stands in front in a close-up (a flower, a cup, a cat) as
# one, with the same confidence. Measured on the shared clips, a blob is a person when the model is sure of it
# and it is either small or standing (taller than wide); a large wide blob is a person only with a face inside
# (`count_people`), which the face analyzer covers anyway.
MIN_PERSON_SCORE = 0.8
MAX_UNCONFIRMED_AREA = 0.12
MIN_STANDING_ASPECT = 1.4  # blob height / width

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PeopleResult:
    """What the people analyzer saw in one frame (analysis resolution). `boxes`/`scores` are the blobs taken
    for people; `others` are large foreground blobs the model marks whose shape does not say person."""

    prob: np.ndarray  # (h, w) float32 person probability in [0, 1], as the model gives it
    mask: np.ndarray  # (h, w) float32: `prob` inside the blobs taken for people, 0 elsewhere
    boxes: tuple[Box, ...]  # one per person blob, normalised x0, y0, x1, y1, largest first
    scores: tuple[float, ...]  # mean probability inside each blob
    others: tuple[Box, ...]  # unconfirmed blobs: people only with a face inside (count_people)
    area: float  # share of the frame covered by the person blobs

    @property
    def count(self) -> int:
        return len(self.boxes)


def _centre_in(face: Box, box: Box) -> bool:
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def person_boxes(result: PeopleResult, face_boxes: list[Box]) -> list[Box]:
    """The person blobs' boxes, plus the unconfirmed blobs with a face centre inside."""
    return list(result.boxes) + [o for o in result.others if any(_centre_in(f, o) for f in face_boxes)]


def count_people(result: PeopleResult, face_boxes: list[Box]) -> int:
    """People in the frame: the person blobs and the unconfirmed ones with a face inside, a blob with several
    faces counting as that many, plus faces outside every blob (a face the model missed is still a person)."""
    blobs = person_boxes(result, face_boxes)
    per_blob = [max(1, sum(_centre_in(f, b) for f in face_boxes)) for b in blobs]
    loose = sum(1 for f in face_boxes if not any(_centre_in(f, b) for b in blobs))
    return sum(per_blob) + loose


def person_blobs(prob: np.ndarray, threshold: float = THRESHOLD, min_area: float = MIN_PERSON_AREA
                 ) -> tuple[np.ndarray, list[tuple[Box, float, bool]]]:
    """(mask of the person blobs as uint8 0/1, [(normalised box, mean probability, is a person)]) of the blobs of
    `prob` above `threshold` that cover at least `min_area` of the frame, largest first."""
    h, w = prob.shape
    binary = (prob >= threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    kept = np.zeros_like(binary)
    out = []
    for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1 if n > 1 else []:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < min_area * h * w:
            break
        blob = labels == i
        score = float(prob[blob].mean())
        person = score >= MIN_PERSON_SCORE and (area <= MAX_UNCONFIRMED_AREA * h * w or bh >= MIN_STANDING_ASPECT * bw)
        if person:
            kept[blob] = 1
        out.append(((x / w, y / h, (x + bw) / w, (y + bh) / h), score, person))
    return kept, out


class PeopleAnalyzer(Analyzer):
    name = "people"
    weight = 0.5  # below faces (1.0): a body matters, its face more
    stride = 2  # 4-11 ms a run; the held mask is grown a little so a walking person stays covered
    max_stride_s = 1.0
    gated = True
    description = "people (MediaPipe selfie segmentation, landscape model, Apache-2.0, on OpenCV DNN)"

    def __init__(self, grow: float = 0.02):
        super().__init__()
        self.grow = grow  # dilation of the heat map, as a share of the frame's short side
        self._path: str | None = None
        self.backend = ""

    def cost_ms(self, width: int, height: int) -> float:
        return 5.7  # a fixed network input (NET_W x NET_H)

    def load(self) -> bool:
        path, why = locate(SELFIE_LANDSCAPE)
        if path is None:
            self.available, self.reason = False, why
            return False
        try:
            with self._net(path):  # built here, so a model OpenCV cannot read shows as unavailable
                pass
        except (cv2.error, AttributeError) as exc:  # an OpenCV without the TFLite importer
            self.available, self.reason = False, f"OpenCV cannot load {path}: {str(exc).strip()[:120]}"
            return False
        self._path = path
        self.backend = "selfie_segmentation_landscape (OpenCV DNN)"
        self.available, self.reason = True, ""
        return True

    @staticmethod
    def _net(path: str):
        """The segmentation network, lent from the process's pool (semcodec.analysis.netpool): read once per
        process, not once per job."""
        return netpool.lend(("selfie", path), lambda: cv2.dnn.readNetFromTFLite(path))

    def segment(self, frame: AnalysisFrame) -> PeopleResult:
        """The person mask of `frame` at its own size, the person blobs and their boxes."""
        return self._segment(frame)[0]

    def _segment(self, frame: AnalysisFrame) -> tuple[PeopleResult, np.ndarray]:
        rgb = frame.color()
        h, w = rgb.shape[:2]
        with self._net(self._path) as net:
            net.setInput(cv2.dnn.blobFromImage(rgb, 1 / 255.0, (NET_W, NET_H)))
            prob = net.forward().reshape(NET_H, NET_W)
        prob = np.clip(cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
        kept, blobs = person_blobs(prob)
        people = [(b, round(sc, 3)) for b, sc, person in blobs if person]
        result = PeopleResult(prob, prob * kept, tuple(b for b, _ in people), tuple(sc for _, sc in people),
                              tuple(b for b, _, person in blobs if not person), float(kept.mean()))
        return result, kept

    def analyze(self, frame: AnalysisFrame) -> Detections:
        result, kept = self._segment(frame)
        regions = [Region("person", box, score, self.name) for box, score in zip(result.boxes, result.scores)]
        heat = kept.astype(np.float32)
        if regions:  # grown and feathered, so the mask held between runs still covers a walking person
            k = max(3, int(round(self.grow * min(heat.shape))) * 2 + 1)
            heat = cv2.dilate(heat, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            heat = cv2.GaussianBlur(heat, (k, k), 0)
        return Detections(regions, heat)
