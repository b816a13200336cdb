"""Labelled objects (person, car, ...) from a YOLO detector the user supplies; never downloaded.

Weights come from `--yolo-weights PATH` or, failing that, from the user's Ultralytics weights folder
(its settings file names it). An ONNX export (`yolo export model=yolov8n.pt format=onnx`) runs on
OpenCV DNN and needs nothing else; a `.pt` file needs the `ultralytics` package (and torchvision).
Regions carry class labels, so later stages (text cross-attention, tags) can refer to them.
"""
from __future__ import annotations

import ast
import glob
import json
import os

import cv2
import numpy as np

from semcodec.analysis.base import AnalysisFrame, Analyzer, Detections, Region, render_regions

COCO80 = ("person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
          "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella "
          "handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard "
          "surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange "
          "broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop "
          "mouse remote keyboard cell_phone microwave oven toaster sink refrigerator book clock vase scissors "
          "teddy_bear hair_drier toothbrush").replace("_", " ").split(" ")
COCO80 = [n.replace(" ", "_") for n in COCO80]
# how much a class matters for bits; anything unlisted counts 0.5
LABEL_WEIGHT = {"person": 1.0, "dog": 0.8, "cat": 0.8, "horse": 0.7, "car": 0.7, "bus": 0.7, "truck": 0.7,
                "motorcycle": 0.7, "bicycle": 0.7, "sports_ball": 0.9, "tv": 0.6, "laptop": 0.6, "book": 0.5}


def find_weights(explicit: str | None) -> tuple[str | None, str]:
    """(path, how it was found) or (None, why not). Looks only at local files."""
    if explicit:
        if not os.path.isfile(explicit):
            return None, f"--yolo-weights {explicit}: no such file"
        return explicit, "given"
    settings = os.path.expanduser("~/.config/Ultralytics/settings.json")
    if os.path.isfile(settings):
        try:
            with open(settings) as f:
                folder = json.load(f).get("weights_dir", "")
        except (OSError, ValueError):
            folder = ""
        for pattern in ("yolo*.onnx", "yolo*.pt"):
            found = sorted(glob.glob(os.path.join(folder, pattern))) if folder else []
            if found:
                return found[0], f"Ultralytics weights folder {folder}"
    return None, "no YOLO weights (give --yolo-weights PATH to an .onnx or .pt file)"


def _onnx_meta(path: str) -> tuple[list[str] | None, int | None]:
    """Class names an Ultralytics ONNX export stores in its metadata, and its square input size, if
    the onnx package is there to read them (otherwise COCO names and 640)."""
    try:
        import onnx
    except ImportError:
        return None, None
    try:
        model = onnx.load(path, load_external_data=False)
        meta = {p.key: p.value for p in model.metadata_props}
        names = ast.literal_eval(meta["names"]) if "names" in meta else None
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    except Exception:  # noqa: BLE001 - metadata is optional; a bad one just means defaults
        return None, None
    size = dims[-1] if len(dims) == 4 and dims[-1] > 0 and dims[-1] == dims[-2] else None
    names = [str(names[i]).replace(" ", "_") for i in sorted(names)] if isinstance(names, dict) else None
    return names, size


def decode_yolo(output: np.ndarray, scale: float, pad: tuple[float, float], names: list[str],
                conf: float = 0.35, iou: float = 0.5) -> list[tuple[str, float, tuple]]:
    """YOLOv8/11 head output (1, 4 + classes, anchors), boxes as cx, cy, w, h in network pixels
    -> [(label, score, (x0, y0, x1, y1) in source pixels)] after per-class NMS."""
    pred = output[0].T  # (anchors, 4 + classes)
    scores = pred[:, 4:]
    cls = scores.argmax(1)
    best = scores[np.arange(len(cls)), cls]
    keep = best >= conf
    pred, cls, best = pred[keep], cls[keep], best[keep]
    if not len(pred):
        return []
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    x0 = (cx - w / 2 - pad[0]) / scale
    y0 = (cy - h / 2 - pad[1]) / scale
    boxes = np.stack([x0, y0, w / scale, h / scale], 1)
    out = []
    for c in np.unique(cls):
        idx = np.nonzero(cls == c)[0]
        kept = cv2.dnn.NMSBoxes(boxes[idx].tolist(), best[idx].tolist(), conf, iou)
        for k in np.asarray(kept).ravel():
            i = idx[k]
            bx, by, bw, bh = boxes[i]
            name = names[c] if c < len(names) else f"class_{c}"
            out.append((name, float(best[i]), (float(bx), float(by), float(bx + bw), float(by + bh))))
    return out


class ObjectAnalyzer(Analyzer):
    name = "objects"
    weight = 0.8
    stride = 6
    max_stride_s = 0.5
    gated = True
    description = "objects (YOLO from user-supplied weights: ONNX on OpenCV DNN, or .pt with ultralytics)"

    def __init__(self, weights: str | None = None, conf: float = 0.35):
        super().__init__()
        self.weights_arg = weights
        self.explicit = bool(weights)
        self.conf = conf
        self.backend = ""
        self._net = None
        self._yolo = None
        self.names: list[str] = COCO80
        self.input_size = 640

    def load(self) -> bool:
        path, how = find_weights(self.weights_arg)
        if not path:
            self.available, self.reason = False, how
            return False
        src = f"--yolo-weights {path}" if self.weights_arg else path  # name the option the user gave
        try:
            if path.endswith(".onnx"):
                self._net = cv2.dnn.readNetFromONNX(path)
                names, size = _onnx_meta(path)
                self.names, self.input_size = names or COCO80, size or 640
                self.backend = f"onnx:{os.path.basename(path)}"
            else:
                from ultralytics import YOLO  # optional, heavy (torch + torchvision)

                self._yolo = YOLO(path)
                self.names = [str(self._yolo.names[i]).replace(" ", "_") for i in sorted(self._yolo.names)]
                self.backend = f"ultralytics:{os.path.basename(path)}"
        except ImportError:
            self.available, self.reason = False, f"{src} needs the ultralytics package (pip install ultralytics)"
            return False
        except Exception as exc:  # noqa: BLE001 - any loader failure is reported, not raised
            self.available, self.reason = False, f"cannot load {src}: {(str(exc).splitlines() or [''])[0][:120]}"
            return False
        self.available, self.reason = True, how
        return True

    def detect(self, rgb: np.ndarray) -> list[tuple[str, float, tuple]]:
        """Labelled boxes in the pixel coordinates of `rgb`."""
        if self._yolo is not None:
            res = self._yolo.predict(rgb[..., ::-1], conf=self.conf, verbose=False)[0]
            return [(self.names[int(c)], float(s), tuple(float(v) for v in b))
                    for b, s, c in zip(res.boxes.xyxy.cpu().numpy(), res.boxes.conf.cpu().numpy(),
                                       res.boxes.cls.cpu().numpy())]
        h, w = rgb.shape[:2]
        size = self.input_size
        scale = min(size / w, size / h)
        nw, nh = int(round(w * scale)), int(round(h * scale))
        pad = ((size - nw) / 2, (size - nh) / 2)
        canvas = np.full((size, size, 3), 114, np.uint8)  # letterbox, as the model was trained
        x, y = int(pad[0]), int(pad[1])
        canvas[y:y + nh, x:x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        self._net.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, (size, size), swapRB=False))
        out = self._net.forward()
        return decode_yolo(out, scale, (x, y), self.names, self.conf)

    def cost_ms(self, width: int, height: int) -> float:
        return 0.25e-3 * self.input_size ** 2  # a YOLO nano on a square input: ~100 ms at 640 (ultralytics' own)

    def analyze(self, frame: AnalysisFrame) -> Detections:
        rgb = frame.color()
        h, w = rgb.shape[:2]
        regions = [Region(label, (max(0.0, x0 / w), max(0.0, y0 / h), min(1.0, x1 / w), min(1.0, y1 / h)),
                          score, self.name) for label, score, (x0, y0, x1, y1) in self.detect(rgb)]
        weighted = [Region(r.label, r.box, LABEL_WEIGHT.get(r.label, 0.5), r.source) for r in regions]
        return Detections(regions, render_regions(weighted, (h, w)))
