"""Cross-attention from text to labelled regions (real MiniLM embeddings, real torch attention) and the
emotion curve -> per-frame QP offsets (smoothing, shot alignment, rate balance)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from semcodec.analysis.base import Region  # noqa: E402
from semcodec.text.attention import RegionAttention, descriptors, queries, spatial_preference  # noqa: E402
from semcodec.text.cues import Cue  # noqa: E402
from semcodec.text.curve import build_curve, frame_durations  # noqa: E402
from semcodec.text.embed import shared_embedder  # noqa: E402
from semcodec.text.guide import TextGuide  # noqa: E402
from semcodec.text.sources import TextSource  # noqa: E402

FACE = Region("face", (0.55, 0.15, 0.75, 0.5), 0.9, "faces")
TEXT = Region("text", (0.1, 0.85, 0.6, 0.95), 0.6, "text")
LEFT = Region("face", (0.05, 0.2, 0.25, 0.5), 0.9, "faces")
RIGHT = Region("face", (0.7, 0.2, 0.9, 0.5), 0.9, "faces")


@pytest.fixture(scope="module")
def att():
    return RegionAttention(shared_embedder())


def run(att, text, regions):
    qs = queries(text)
    return att(qs, att.encode_queries(qs), regions)


def test_the_face_puts_most_weight_on_the_face(att):
    a = run(att, "the face", [TEXT, FACE])
    assert a.weights.shape == (1, 2)
    assert a.weights[0, 1] > 0.9 and a.weights[0].sum() == pytest.approx(1, abs=1e-5)
    assert a.boost[1] > 0.95 and a.boost[0] < 0.05
    assert a.similarity[0, 1] > 0.7 > a.similarity[0, 0]
    j = a.to_json()
    assert j["regions"][0]["label"] == "face" and j["queries"][0]["best_region"] == "face"


def test_absent_thing_gives_no_boost(att):
    for prompt in ("a giraffe", "the giraffe on the left", "Tell me, is the lord of the universe in?", "Hildy!"):
        a = run(att, prompt, [TEXT, FACE, LEFT])
        assert a.boost.max() == 0.0, (prompt, a.similarity)
        assert a.weights.sum(1) == pytest.approx(1, abs=1e-5)  # the softmax still sums to one: the gate decides


def test_plural_lifts_every_instance_and_spatial_words_pick_one(att):
    a = run(att, "the faces", [LEFT, FACE, RIGHT, TEXT])
    assert a.boost[:3].min() > 0.95 and a.boost[3] == 0
    left = run(att, "the man on the left", [LEFT, RIGHT, TEXT])
    assert left.queries[0].directions == ("left",) and left.queries[0].text == "the man"
    assert left.boost[0] > 0.95 and left.boost[1] < 0.2
    right = run(att, "look at the woman on the right!", [LEFT, RIGHT, TEXT])
    assert right.boost[1] > 0.95 and right.boost[0] < 0.2
    assert right.attended_box[0, 0] > 0.5  # the attended value (box) is on the right


def test_it_is_scaled_dot_product_attention(att):
    """The attended values equal torch's scaled_dot_product_attention with each region's best-matching
    descriptor as its key, the boxes as values and the spatial preference as the additive mask."""
    regions = [LEFT, RIGHT, TEXT, Region("car", (0.3, 0.5, 0.6, 0.8), 0.6, "objects")]
    qs = queries("the car and the man on the left")
    assert [(q.text, q.directions) for q in qs] == [("the car", ()), ("the man", ("left",))]
    q = att.encode_queries(qs)
    a = att(qs, q, regions)
    keys = [att.embedder(descriptors(r.label)) for r in regions]
    k_sel = np.stack([np.stack([keys[r][np.argmax(keys[r] @ q[i])] for r in range(len(regions))])
                      for i in range(len(qs))])  # (n_q, n_r, d)
    boxes = np.array([r.box for r in regions], np.float32)
    mask = np.stack([sum((spatial_preference(boxes, d) for d in qq.directions), np.zeros(len(regions)))
                     * att.spatial_bias * att.scale for qq in qs]).astype(np.float32)
    v = torch.from_numpy(boxes).expand(len(qs), -1, -1)
    out = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q)[:, None, :], torch.from_numpy(k_sel.astype(np.float32)), v,
        attn_mask=torch.from_numpy(mask[:, None, :]), scale=att.scale)
    np.testing.assert_allclose(out[:, 0].numpy(), a.attended_box, atol=1e-4)
    np.testing.assert_allclose(a.similarity, np.einsum("qd,qrd->qr", q, k_sel), atol=1e-5)
    assert a.boost[3] > 0.95 and a.boost[0] > 0.95 and a.boost[1] < 0.2  # the car, and the man on the left


def test_guide_raises_named_regions_and_leaves_absent_prompts_alone():
    imp = np.full((60, 100), 0.3, np.float32)
    times = np.arange(50) / 25
    faces = TextGuide(None, "the face", times, attention=True)
    out, gain = faces.apply(imp, [TEXT, FACE], 0.5)
    assert gain > 1.4 and out is not imp and imp.max() == pytest.approx(0.3)  # input untouched
    face_px = out[int(0.3 * 60), int(0.65 * 100)]
    text_px = out[int(0.9 * 60), int(0.3 * 100)]
    assert face_px > 0.9 and text_px < 0.3  # named region up, the rest lowered
    giraffe = TextGuide(None, "a giraffe", times)
    same, gain = giraffe.apply(imp, [TEXT, FACE], 0.5)
    assert same is imp and gain == 1.0
    rep = faces.report()["prompt"]
    assert rep["boosted"]["face"]["max_boost"] > 0.95 and "text" not in rep["boosted"]
    assert giraffe.report()["prompt"]["boosted"] == {}


def test_cue_boost_ramps_in_and_out():
    cue = Cue(1.0, 2.0, "look at the face", source="srt")
    g = TextGuide(TextSource("srt", cues=[cue]), None, np.arange(100) / 25, strength=0)
    b = [float(g.boosts([FACE], t)[0]) for t in (0.5, 0.85, 1.5, 2.15, 2.5)]
    assert b[0] == 0 and b[4] == 0 and b[2] > 0.95
    assert 0.2 < b[1] < 0.8 and 0.2 < b[3] < 0.8  # half-way up the 0.3 s ramps


# ---- emotion curve -> frame offsets ---------------------------------------------------------------

def cues_with(*spans):
    out = []
    for s, e, intensity in spans:
        c = Cue(s, e, "x")
        c.emotion = {"intensity": intensity}
        out.append(c)
    return out


def test_offsets_zero_mean_in_rate_domain_and_negative_under_intense_cue():
    times = np.arange(0, 6, 1 / 25)
    cues = cues_with((0, 2, 0.05), (2, 3, 0.9), (3, 6, 0.1))
    c = build_curve(cues, times, strength=4.0)
    dt = frame_durations(times)
    assert (dt * np.exp2(-c.offsets / 6)).sum() / dt.sum() == pytest.approx(1.0, abs=1e-5)
    assert c.rate_balance() == pytest.approx(1.0, abs=1e-5)
    intense = (times >= 2.2) & (times < 2.8)
    calm = (times < 1.5) | (times > 3.5)
    assert c.offsets[intense].max() < -1.5 and c.offsets[calm].min() > 0
    assert c.offsets.max() - c.offsets.min() == pytest.approx(4.0, abs=0.05)
    assert np.abs(np.diff(c.offsets)).max() < 0.6  # smoothed: no jump from one frame to the next
    assert c.offset_at(2.5) == pytest.approx(c.offsets[np.searchsorted(times, 2.5)])


def test_offsets_align_to_a_cut_and_do_not_smooth_across_it():
    times = np.arange(0, 6, 1 / 25)
    cues = cues_with((0, 2.2, 0.05), (2.2, 4, 0.9))
    c = build_curve(cues, times, strength=4.0, cuts=[2.0])  # the intense cue starts 0.2 s after a cut
    i = int(np.searchsorted(times, 2.0))
    assert c.offsets[i - 1] - c.offsets[i] > 2.5  # a step exactly at the cut
    assert np.ptp(c.offsets[: i - 1]) < 0.05  # nothing leaks back into the calm shot
    assert c.summary()["cuts_s"] == [2.0]


def test_flat_or_zero_strength_curves():
    times = np.arange(0, 4, 1 / 25)
    flat = build_curve(cues_with((0, 2, 0.30), (2, 4, 0.35)), times, strength=4.0)
    assert np.ptp(flat.offsets) < 1.0  # a 0.05 difference in intensity is not stretched to 4 QP
    zero = build_curve(cues_with((1, 2, 0.9)), times, strength=0.0)
    assert np.abs(zero.offsets).max() == 0
