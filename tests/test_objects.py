"""The YOLO objects analyzer: real loading through OpenCV DNN of a tiny ONNX model the test builds with
the `onnx` package (same output layout as an Ultralytics YOLOv8/11 export), real decoding and NMS."""
import numpy as np
import pytest

from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.fusion import build_analyzers
from semcodec.analysis.objects import ObjectAnalyzer, decode_yolo, find_weights

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

SIZE = 64


def tiny_yolo(path, boxes, names, size=SIZE):
    """A network whose head always outputs `boxes` [(cx, cy, w, h, class, score)], but only after really
    reading the image (its mean brightness gates the scores), in the (1, 4 + classes, anchors) layout."""
    nc, anchors = len(names), 8
    head = np.zeros((1, 4 + nc, anchors), np.float32)
    for i, (cx, cy, w, h, c, s) in enumerate(boxes):
        head[0, :4, i] = (cx, cy, w, h)
        head[0, 4 + c, i] = s
    gate = np.zeros((1, 4 + nc, anchors), np.float32)
    gate[0, 4:, :] = 1.0  # scores are multiplied by mean(image) * 2: a black frame gives no detections
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=1),  # (1, 1, 1, 1)
        helper.make_node("Reshape", ["m", "shape1"], ["m1"]),          # (1, 1, 1)
        helper.make_node("Mul", ["m1", "two"], ["g"]),
        helper.make_node("Mul", ["gate", "g"], ["gg"]),
        helper.make_node("Sub", ["one", "gate"], ["keep"]),
        helper.make_node("Add", ["gg", "keep"], ["factor"]),
        helper.make_node("Mul", ["head", "factor"], ["output0"]),
    ]
    init = [helper.make_tensor("head", TensorProto.FLOAT, head.shape, head.ravel()),
            helper.make_tensor("gate", TensorProto.FLOAT, gate.shape, gate.ravel()),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
            helper.make_tensor("shape1", TensorProto.INT64, [3], [1, 1, 1])]
    graph = helper.make_graph(nodes, "tiny_yolo",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(head.shape))], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": str({i: n for i, n in enumerate(names)})})
    onnx.save(model, str(path))
    return str(path)


def frame(rgb):
    import cv2
    return AnalysisFrame(0, 0.0, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_loads_onnx_and_maps_boxes_back_through_the_letterbox(tmp_path):
    # a 128x64 frame is letterboxed into 64x64: scale 0.5, 16 px of padding above and below
    path = tiny_yolo(tmp_path / "tiny.onnx", [(32, 32, 16, 16, 1, 0.9), (10, 30, 8, 8, 0, 0.2)], ["person", "car"])
    a = ObjectAnalyzer(path)
    assert a.load(), a.reason
    assert a.names == ["person", "car"] and a.input_size == SIZE and a.backend.startswith("onnx:")
    det = a.analyze(frame(np.full((64, 128, 3), 128, np.uint8)))
    # scores are gated by the image's brightness (about 0.95 here): only the strong 'car' box passes
    assert [r.label for r in det.regions] == ["car"] and 0.8 < det.regions[0].score <= 0.9
    x0, y0, x1, y1 = det.regions[0].box
    # centre (32, 32) in net pixels -> (64, 32) in the frame; 16 px wide -> 32 px
    assert (x0, y0, x1, y1) == pytest.approx((48 / 128, 16 / 64, 80 / 128, 48 / 64), abs=1e-3)
    assert det.heat.shape == (64, 128) and det.heat[32, 64] > 0.5 and det.heat[5, 5] == 0


def test_the_model_really_sees_the_image(tmp_path):
    path = tiny_yolo(tmp_path / "tiny.onnx", [(32, 32, 16, 16, 0, 0.9)], ["person"])
    a = ObjectAnalyzer(path)
    a.load()
    assert a.analyze(frame(np.full((64, 64, 3), 128, np.uint8))).regions
    assert not a.analyze(frame(np.zeros((64, 64, 3), np.uint8))).regions  # black frame gates scores to 0


def test_nms_keeps_one_of_two_overlapping_boxes():
    out = np.zeros((1, 5, 3), np.float32)
    out[0, :, 0] = (50, 50, 20, 20, 0.9)
    out[0, :, 1] = (52, 51, 20, 20, 0.8)  # same object
    out[0, :, 2] = (10, 10, 8, 8, 0.7)
    found = decode_yolo(out, 1.0, (0, 0), ["person"])
    assert sorted(round(s, 1) for _, s, _ in found) == [0.7, 0.9]


def test_missing_weights_say_why(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no Ultralytics settings here
    a = ObjectAnalyzer(None)
    assert not a.load() and "--yolo-weights" in a.reason
    b = ObjectAnalyzer(str(tmp_path / "nope.onnx"))
    assert not b.load() and "no such file" in b.reason
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    c = ObjectAnalyzer(str(bad))
    assert not c.load() and "cannot load" in c.reason


def test_finds_weights_in_the_ultralytics_folder(tmp_path, monkeypatch):
    import json
    monkeypatch.setenv("HOME", str(tmp_path))
    weights = tmp_path / "w"
    weights.mkdir()
    tiny_yolo(weights / "yolo_tiny.onnx", [(32, 32, 16, 16, 0, 0.9)], ["person"])
    (tmp_path / ".config" / "Ultralytics").mkdir(parents=True)
    (tmp_path / ".config" / "Ultralytics" / "settings.json").write_text(json.dumps({"weights_dir": str(weights)}))
    path, how = find_weights(None)
    assert path == str(weights / "yolo_tiny.onnx") and "Ultralytics" in how


def test_objects_in_an_encode(tmp_path):
    from conftest import make_clip
    from semcodec.pipeline import EncodeSettings, encode

    path = tiny_yolo(tmp_path / "tiny.onnx", [(32, 32, 24, 24, 0, 0.9)], ["person"])
    src = make_clip(tmp_path / "in.mp4", frames=12)
    report = encode(src, str(tmp_path / "out.mp4"), EncodeSettings(roi="objects", yolo_weights=path))
    obj = report["roi"]["analyzers"][0]
    assert obj["name"] == "objects" and obj["available"] and obj["runs"] >= 1
    # planned runs on its stride (stretched by the schedule on this tiny clip), early renewals, gate skips
    assert obj["runs"] == -(-12 // obj["stride"]) + obj["renewed_early"] - obj["skipped_unchanged"], obj
    assert report["roi"]["offset_qp_min"] < 0
    assert [a.name for a in build_analyzers("auto", path)][:2] == ["faces", "objects"]
