"""The people analyzer on the real MediaPipe model (installed by `make setup`), its gate against foreground
objects, the unavailable path, and the install-time extraction of the model file."""
import hashlib
import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from conftest import texture_image
from semcodec.analysis.base import AnalysisFrame
from semcodec.analysis.faces import FaceAnalyzer
from semcodec.analysis.fusion import ImportanceMapper, build_analyzers
from semcodec.analysis.people import PeopleAnalyzer, count_people, person_boxes
from semcodec.errors import SemcodecError
from semcodec.modelfiles import MODEL_DIR_ENV, SELFIE_LANDSCAPE, licence_name, locate, model_dir
from semcodec.semantic.caption import compose_caption

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W, H = 320, 180
PERSON_AT = (120, 40, 190, 180)  # x0, y0, x1, y1 of the pasted person in standing_person()


def frame_of(rgb: np.ndarray) -> AnalysisFrame:
    return AnalysisFrame(0, 0.0, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def standing_person() -> np.ndarray:
    """The astronaut (a real photo) narrowed to a tall figure standing on a textured background."""
    person = cv2.resize(skdata.astronaut()[:, 110:360], (70, 140), interpolation=cv2.INTER_AREA)
    canvas = texture_image(H, W)
    x0, y0, x1, y1 = PERSON_AT
    canvas[y0:y1, x0:x1] = person
    return canvas


def fit(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = W / max(h, w)
    return cv2.resize(rgb, (int(w * s) // 2 * 2, int(h * s) // 2 * 2), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def people():
    pa = PeopleAnalyzer()
    # no skip: `make setup` installs the model, so a missing file here is a broken install, and fails
    assert pa.load(), pa.reason
    return pa


INSTALLED, WHY = locate(SELFIE_LANDSCAPE)  # read before any test points SEMCODEC_MODEL_DIR elsewhere


def test_model_file_is_the_verified_one():
    path = INSTALLED
    assert path, WHY
    assert os.path.getsize(path) == 250145
    assert (model_dir() / licence_name(SELFIE_LANDSCAPE)).read_text().lstrip().startswith("Apache License")


def test_standing_person_found(people):
    rgb = standing_person()
    res = people.segment(frame_of(rgb))
    assert res.count == 1 and res.others == ()
    x0, y0, x1, y1 = PERSON_AT
    box = res.boxes[0]
    assert box == pytest.approx((x0 / W, y0 / H, x1 / W, y1 / H), abs=0.04)
    assert res.scores[0] > 0.9
    assert res.mask.shape == (H, W) and res.mask.dtype == np.float32
    inside = np.zeros((H, W), bool)
    inside[y0:y1, x0:x1] = True
    near = np.zeros((H, W), bool)
    near[y0 - 6:y1, x0 - 6:x1 + 6] = True
    assert res.mask[inside].mean() > 0.5 and res.mask[~near].max() == 0
    assert 0.05 < res.area < 0.2
    det = people.analyze(frame_of(rgb))
    assert [r.label for r in det.regions] == ["person"] and det.regions[0].source == "people"
    # the heat covers the body, grown a little, and nothing far from it
    assert det.heat[inside].mean() > 0.5 and det.heat[:, :60].max() == 0 and det.heat.max() <= 1


def test_no_person_on_texture(people):
    res = people.segment(frame_of(texture_image(H, W)))
    assert res.count == 0 and res.others == () and res.area == 0
    assert people.analyze(frame_of(texture_image(H, W))).heat.max() == 0


def test_foreground_object_is_not_a_person(people):
    """The model marks a close-up cup as 'person': the shape gate keeps it out of the people count."""
    res = people.segment(frame_of(fit(skdata.coffee())))
    assert res.count == 0 and len(res.others) == 1
    assert count_people(res, []) == 0
    assert people.analyze(frame_of(fit(skdata.coffee()))).heat.max() == 0


def test_close_up_person_confirmed_by_face(people):
    rgb = fit(skdata.astronaut())
    res = people.segment(frame_of(rgb))
    assert res.count == 0 and len(res.others) == 1  # large and wide: not a person on shape alone
    faces = FaceAnalyzer()
    assert faces.load()
    face_boxes = [r.box for r in faces.analyze(frame_of(rgb)).regions]
    assert len(face_boxes) == 1
    assert count_people(res, face_boxes) == 1
    assert person_boxes(res, face_boxes) == list(res.others)
    # two faces in one blob are two people; a face outside every blob is one more
    assert count_people(res, face_boxes * 2) == 2
    assert count_people(res, face_boxes + [(0.96, 0.0, 0.99, 0.03)]) == 2


def test_people_in_the_fused_map(people):
    rgb = standing_person()
    mapper = ImportanceMapper(build_analyzers("people"), required=True)
    m = mapper(AnalysisFrame(0, 0.0, None, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), make_rgb=lambda: rgb))
    x0, y0, x1, y1 = PERSON_AT
    assert m[y0 + 20:y1, x0:x1].mean() > 0.3 and m[:, :60].max() == 0
    assert m.max() <= PeopleAnalyzer.weight + 1e-6  # below a face's full weight


def test_caption_names_a_person_without_a_face():
    from semcodec.semantic.format import Region

    cap = compose_caption("people", {}, [Region("person", (0.4, 0.2, 0.6, 1.0))], standing_person())
    assert "a person, face not visible, at the centre" in cap


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "models"))
    return tmp_path / "models"


def test_unavailable_without_the_model(no_models):
    pa = PeopleAnalyzer()
    assert pa.load() is False and pa.available is False
    assert "not installed" in pa.reason and "make setup" in pa.reason and str(no_models) in pa.reason
    # --roi auto lists it with the reason; naming it makes the run fail with that reason, in one line
    mapper = ImportanceMapper([PeopleAnalyzer()])
    assert mapper.active == [] and "not installed" in mapper.summary()[0]["note"]
    with pytest.raises(SemcodecError, match="analyzer 'people' cannot run: .*not installed") as exc:
        ImportanceMapper(build_analyzers("people"), required=True)
    assert "\n" not in str(exc.value)


def test_altered_model_is_refused(no_models):
    no_models.mkdir()
    (no_models / SELFIE_LANDSCAPE.filename).write_bytes(b"not a model")
    pa = PeopleAnalyzer()
    assert pa.load() is False and "not the expected file" in pa.reason


def test_cli_roi_people_without_model_is_one_clear_line(no_models, clips, tmp_path):
    src = clips("people_small.mp4", frames=4)
    out = tmp_path / "out.mp4"
    proc = subprocess.run([sys.executable, "-m", "cli.main", "encode", src, "-o", str(out), "--roi", "people"],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, MODEL_DIR_ENV: str(no_models)})
    assert proc.returncode != 0 and not out.exists()
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "people" in lines[0] and "not installed" in lines[0], proc.stderr


def _wheel(path, model: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(SELFIE_LANDSCAPE.member, model)
        z.writestr(SELFIE_LANDSCAPE.licence_member, "Apache License\nVersion 2.0\n")
    return path


def test_installer_extracts_and_verifies(no_models, tmp_path):
    real = open(INSTALLED, "rb").read()  # the file `make setup` installed, packed into a stand-in wheel
    assert hashlib.sha256(real).hexdigest() == SELFIE_LANDSCAPE.sha256
    script = os.path.join(ROOT, "tools", "install_models.py")
    env = {**os.environ, MODEL_DIR_ENV: str(no_models)}
    bad = subprocess.run([sys.executable, script, "--wheel", str(_wheel(tmp_path / "bad.whl", b"x" * 100))],
                         capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "expected" in bad.stderr and not no_models.exists()
    check = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, env=env)
    assert check.returncode == 1 and "not installed" in check.stdout
    good = subprocess.run([sys.executable, script, "--wheel", str(_wheel(tmp_path / "good.whl", real))],
                          capture_output=True, text=True, env=env)
    assert good.returncode == 0, good.stderr
    assert sorted(os.listdir(no_models)) == sorted([SELFIE_LANDSCAPE.filename, licence_name(SELFIE_LANDSCAPE)])
    assert PeopleAnalyzer().load()
