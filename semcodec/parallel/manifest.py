"""The work folder's manifest: what the job is, which chunks are finished and their checksums.
Written atomically (temp file + fsync + rename) by the coordinating process only, after each chunk,
so Ctrl-C or a killed worker at any moment leaves either the old or the new manifest, never half."""
from __future__ import annotations

import errno
import json
import os

from semcodec.errors import SemcodecError
from semcodec.io.writer import write_json
from semcodec.parallel.index import sha256_file

SCHEMA = "semcodec.parallel_manifest/1"
NAME = "manifest.json"


def write_json_atomic(path: str, data: dict) -> None:
    """write_json, with any file-system failure (a full disk) as one clean SemcodecError."""
    try:
        write_json(path, data, indent=1)
    except OSError as exc:
        reason = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise SemcodecError(f"cannot write the chunk manifest {path}: {reason}") from None


class Manifest:
    def __init__(self, work_dir: str, data: dict):
        self.work_dir, self.data = work_dir, data

    @property
    def path(self) -> str:
        return os.path.join(self.work_dir, NAME)

    @property
    def chunks(self) -> list[dict]:
        return self.data["chunks"]

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def chunk_path(self, c: dict) -> str:
        return os.path.join(self.work_dir, c["file"])

    def pass1_path(self, c: dict) -> str:
        """The chunk's first-pass folder (two-pass: statistics, maps, cuts; worker.first_pass_chunk)."""
        return os.path.join(self.work_dir, f"chunk_{c['index']:05d}.pass1")

    def pass1_ok(self, c: dict) -> bool:
        rec = c.get("pass1")
        if not rec:
            return False
        folder = self.pass1_path(c)
        return all(os.path.isfile(os.path.join(folder, n)) and sha256_file(os.path.join(folder, n)) == h
                   for n, h in rec["files"].items())

    @classmethod
    def load_matching(cls, work_dir: str, input_sig: dict, settings_hash: str) -> Manifest | None:
        """The manifest in `work_dir` if it describes this input and these settings, else None."""
        path = os.path.join(work_dir, NAME)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return None
        if data.get("schema") != SCHEMA or data.get("settings_hash") != settings_hash:
            return None
        sig = data.get("input", {})
        if any(sig.get(k) != input_sig[k] for k in ("size", "mtime_ns", "head_tail_sha256")):
            return None
        return cls(work_dir, data)

    def verify(self) -> tuple[list[int], list[int]]:
        """Re-check every finished chunk's file (and first-pass folder) against its sha256. Returns (kept,
        redone) chunk indices; a missing or corrupt chunk goes back to pending (it is re-encoded, never
        joined)."""
        kept, redo = [], []
        for c in self.chunks:
            if c.get("state") == "pass1" and not self.pass1_ok(c):
                c["state"], c["pass1"] = "pending", None  # its first pass is redone
            if c.get("state") != "done":
                continue
            p = self.chunk_path(c)
            if os.path.isfile(p) and os.path.getsize(p) == c.get("bytes") and sha256_file(p) == c.get("sha256"):
                kept.append(c["index"])
            else:
                # a two-pass chunk whose first pass is intact needs only its pass 2 again
                c["state"], c["sha256"] = "pass1" if self.pass1_ok(c) else "pending", None
                redo.append(c["index"])
        return kept, redo
