"""Every frame's map of a whole video, planned once and replayed exactly: by the CRF rate fit's probe encodes
(the frames of each sampled segment) and by the encode itself, each at its own whole-frame offset.

A map holds a few distinct offsets (the allocator rounds them to a step), so each frame is stored as its
distinct float32 values and one byte per block naming one of them: exact (the two-pass log keeps half-QP
steps only) and about a byte per block on disk, not in memory (1080p: 8 KB a frame)."""
from __future__ import annotations

import os
import struct
import threading

import numpy as np

from semcodec.encoding.qpmap import QpMap
from semcodec.errors import SemcodecError
from semcodec.pipeline.loop import MapRecording

_HEAD = struct.Struct("<H")  # distinct values in the frame (0: the raw float32 grid follows)


class MapFile:
    """Append-only file of QpMaps, read back by frame number once writing is done. The cuts found while the
    maps were planned travel with them."""

    def __init__(self, folder: str, shape: tuple[int, int], block: int):
        self.path = os.path.join(folder, "maps.bin")
        self.shape, self.block = shape, block
        self.cuts: list[int] = []
        self._starts: list[int] = []  # file position of each frame's record
        self._f = open(self.path, "w+b")  # noqa: SIM115 - lives for the job, closed in close()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._starts)

    def write(self, qp: QpMap) -> None:
        values, index = np.unique(qp.offsets, return_inverse=True)
        if len(values) <= 255:
            record = _HEAD.pack(len(values)) + values.astype(np.float32).tobytes() + index.astype(np.uint8).tobytes()
        else:
            record = _HEAD.pack(0) + qp.offsets.astype(np.float32).tobytes()
        with self._lock:
            self._f.seek(0, os.SEEK_END)
            self._starts.append(self._f.tell())
            try:
                self._f.write(record)
            except OSError as exc:  # a full TMPDIR: name the work file, not the output
                raise SemcodecError(f"cannot write work file {self.path}: {exc.strerror}") from None

    def read(self, frame: int) -> QpMap:
        """Frame `frame`'s map; a neutral one past the last planned frame (the encode decoded more)."""
        if frame >= len(self._starts):
            return QpMap.zeros(self.shape, self.block)
        blocks = self.shape[0] * self.shape[1]
        with self._lock:
            self._f.seek(self._starts[frame])
            (count,) = _HEAD.unpack(self._f.read(_HEAD.size))
            data = self._f.read(count * 4 + blocks if count else blocks * 4)
        if count:
            values = np.frombuffer(data[:count * 4], np.float32)
            grid = values[np.frombuffer(data[count * 4:], np.uint8)]
        else:
            grid = np.frombuffer(data, np.float32).copy()
        return QpMap(grid.reshape(self.shape), self.block)

    def reader(self, offset: float, start: int = 0) -> _FileReader:
        """Sequential maps from frame `start`, each with `offset` QP added (the maps were planned at none)."""
        return _FileReader(self, start, offset)

    def segment(self, start: int, end: int) -> MapRecording:
        """Frames [start, end) as a probe encode's recording: their maps, and the cuts among them counted from
        the segment's first frame."""
        return MapRecording(0.0, [self.read(i) for i in range(start, min(end, len(self)))],
                            [c - start for c in self.cuts if start < c < end])

    def close(self) -> None:
        self._f.close()


class _FileReader:
    def __init__(self, maps: MapFile, start: int, offset: float):
        self.maps, self.next, self.offset = maps, start, np.float32(offset)

    def read(self) -> QpMap:
        qp = self.maps.read(self.next)
        self.next += 1
        return QpMap(qp.offsets + self.offset, qp.block) if self.offset else qp
