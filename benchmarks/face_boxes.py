"""Hand-checked ground-truth face boxes for benchmark clips.

The annotation lives in ``benchmarks/face_boxes.json`` (schema
``semcodec.face_boxes/1``).  Each clip has tracks; each track has keyframes
``{"frame": i, "box": [x0, y0, x1, y1]}`` in source pixels with exclusive
``x1``/``y1``.  Between two keyframes of a track the box is linearly
interpolated; a track exists only from its first to its last keyframe.

Usage as a library::

    tracks = load_face_tracks("benchmarks/face_boxes.json", "akiyo_qcif_news_anchor.mp4")
    tracks.boxes(10)              # [(x0, y0, x1, y1), ...]
    tracks.mask(10, 176, 144)     # bool array (H, W)

Usage as a script (draw the boxes on ~12 evenly spaced frames so anyone can
re-check the annotation by eye)::

    python benchmarks/face_boxes.py --sheet /path/to/clip.mp4 out.png
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

import numpy as np

DEFAULT_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "face_boxes.json")
SCHEMA = "semcodec.face_boxes/1"

Box = tuple[int, int, int, int]


@dataclass
class FaceTrack:
    id: str
    frames: np.ndarray  # (K,) int, strictly increasing keyframe indices
    boxes: np.ndarray  # (K, 4) float, x0 y0 x1 y1

    def box_at(self, frame_index: int) -> np.ndarray | None:
        if frame_index < self.frames[0] or frame_index > self.frames[-1]:
            return None
        return np.array([np.interp(frame_index, self.frames, self.boxes[:, j]) for j in range(4)])


@dataclass
class FaceTracks:
    clip: str
    width: int
    height: int
    frames: int
    tracks: list[FaceTrack] = field(default_factory=list)

    def boxes(self, frame_index: int) -> list[Box]:
        """Interpolated boxes of all tracks alive at ``frame_index`` (annotated pixel grid)."""
        out: list[Box] = []
        for t in self.tracks:
            b = t.box_at(frame_index)
            if b is None:
                continue
            x0, y0, x1, y1 = (int(round(v)) for v in b)
            x0, x1 = max(0, min(x0, self.width)), max(0, min(x1, self.width))
            y0, y1 = max(0, min(y0, self.height)), max(0, min(y1, self.height))
            if x1 > x0 and y1 > y0:
                out.append((x0, y0, x1, y1))
        return out

    def mask(self, frame_index: int, width: int | None = None, height: int | None = None) -> np.ndarray:
        """Bool mask (height, width), True inside any face box.

        If width/height differ from the annotated size the boxes are scaled
        (x by width/self.width, y by height/self.height); box edges are
        rounded to the nearest pixel boundary.
        """
        width = self.width if width is None else int(width)
        height = self.height if height is None else int(height)
        sx, sy = width / self.width, height / self.height
        xs = np.arange(width)
        ys = np.arange(height)
        m = np.zeros((height, width), dtype=bool)
        for x0, y0, x1, y1 in self.boxes(frame_index):
            X0, X1 = int(round(x0 * sx)), int(round(x1 * sx))
            Y0, Y1 = int(round(y0 * sy)), int(round(y1 * sy))
            col = (xs >= X0) & (xs < X1)
            row = (ys >= Y0) & (ys < Y1)
            m |= row[:, None] & col[None, :]
        return m


def load_face_tracks(path: str | os.PathLike | None, clip_name: str) -> FaceTracks:
    """Load the tracks of one clip; ``clip_name`` may be a bare name or a path."""
    path = DEFAULT_JSON if path is None else path
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: unexpected schema {data.get('schema')!r}")
    name = os.path.basename(str(clip_name))
    try:
        clip = data["clips"][name]
    except KeyError:
        raise KeyError(f"{name!r} not annotated in {path}; have {sorted(data['clips'])}") from None
    tracks = []
    for t in clip["tracks"]:
        kf = sorted(t["keyframes"], key=lambda k: k["frame"])
        frames = np.array([k["frame"] for k in kf], dtype=np.int64)
        if len(frames) == 0 or np.any(np.diff(frames) <= 0):
            raise ValueError(f"{name}/{t['id']}: keyframes must be non-empty and unique")
        boxes = np.array([k["box"] for k in kf], dtype=np.float64).reshape(-1, 4)
        tracks.append(FaceTrack(t["id"], frames, boxes))
    return FaceTracks(name, int(clip["width"]), int(clip["height"]), int(clip["frames"]), tracks)


_COLORS = [(0, 0, 255), (0, 200, 0), (255, 128, 0), (255, 0, 255), (0, 200, 255), (255, 255, 0)]


def contact_sheet(clip_path: str, out_png: str, json_path: str | None = None, n: int = 12,
                  cols: int = 4, tile_width: int | None = None) -> None:
    """Draw interpolated boxes on ~n evenly spaced frames of the clip into one PNG."""
    import av
    import cv2

    ft = load_face_tracks(json_path, clip_path)
    total = ft.frames
    wanted = sorted(set(int(round(v)) for v in np.linspace(0, total - 1, n)))
    frames: dict[int, np.ndarray] = {}
    with av.open(clip_path) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i in wanted:
                frames[i] = fr.to_ndarray(format="bgr24")
            if i >= wanted[-1]:
                break
    if tile_width is None:
        tile_width = ft.width * 2 if ft.width < 320 else 320
    scale = tile_width / ft.width
    tiles = []
    for i in wanted:
        if i not in frames:
            continue
        img = frames[i]
        h, w = img.shape[:2]
        th = int(round(h * tile_width / w))
        img = cv2.resize(img, (tile_width, th), interpolation=cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA)
        sx, sy = tile_width / ft.width, th / ft.height
        for t_idx, t in enumerate(ft.tracks):
            b = t.box_at(i)
            if b is None:
                continue
            x0, y0, x1, y1 = (int(round(v)) for v in b)
            color = _COLORS[t_idx % len(_COLORS)]
            p0 = (int(round(x0 * sx)), int(round(y0 * sy)))
            p1 = (int(round(x1 * sx)) - 1, int(round(y1 * sy)) - 1)
            cv2.rectangle(img, p0, p1, color, 1)
        cv2.putText(img, f"#{i}", (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3)
        cv2.putText(img, f"#{i}", (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        tiles.append(img)
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    pad = 2
    rows = []
    for r in range(len(tiles) // cols):
        row = []
        for t in tiles[r * cols:(r + 1) * cols]:
            row.append(cv2.copyMakeBorder(t, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255)))
        rows.append(np.hstack(row))
    sheet = np.vstack(rows)
    legend = "  ".join(f"{t.id}" for t in ft.tracks)
    bar = np.full((18, sheet.shape[1], 3), 255, np.uint8)
    x = 4
    for t_idx, t in enumerate(ft.tracks):
        color = _COLORS[t_idx % len(_COLORS)]
        cv2.rectangle(bar, (x, 5), (x + 10, 13), color, -1)
        cv2.putText(bar, t.id, (x + 14, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
        x += 24 + int(7.2 * len(t.id))
    del legend
    sheet = np.vstack([bar, sheet])
    os.makedirs(os.path.dirname(os.path.abspath(out_png)), exist_ok=True)
    _write_png_small(out_png, sheet)


def _write_png_small(path: str, bgr: np.ndarray, max_bytes: int = 380_000) -> None:
    """Write a PNG, palette-quantised when Pillow is available to keep it small.

    The box colours are reserved in the palette so they survive quantisation exactly.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with matplotlib
        import cv2

        cv2.imwrite(path, bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        return
    img = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    reserved = [(r, g, b) for (b, g, r) in _COLORS] + [(0, 0, 0), (255, 255, 255)]
    for colors in (256, 128, 64, 32):  # fewer colours until the file is commit-friendly
        base = img.quantize(colors=colors - len(reserved), method=Image.Quantize.MEDIANCUT,
                            dither=Image.Dither.NONE)
        pal = base.getpalette()[: 3 * (colors - len(reserved))]
        for c in reserved:
            pal.extend(c)
        pal_img = Image.new("P", (1, 1))
        pal_img.putpalette(pal + [0, 0, 0] * (256 - len(pal) // 3))
        img.quantize(palette=pal_img, dither=Image.Dither.NONE).save(path, optimize=True)
        if os.path.getsize(path) < max_bytes:
            break


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sheet", nargs=2, metavar=("CLIP_PATH", "OUT_PNG"), required=True,
                    help="draw interpolated boxes on ~12 evenly spaced frames into a contact sheet")
    ap.add_argument("--json", default=DEFAULT_JSON, help="annotation file (default: %(default)s)")
    ap.add_argument("--n", type=int, default=12, help="number of frames (default 12)")
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--tile-width", type=int, default=None,
                    help="pixel width of each tile (default: 2x for QCIF, 320 for larger)")
    a = ap.parse_args(argv)
    contact_sheet(a.sheet[0], a.sheet[1], a.json, n=a.n, cols=a.cols, tile_width=a.tile_width)
    print(a.sheet[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
