"""Emotion per line: VADER + the packaged MiniLM against prototype sentences (the real models), and the
optional classifier path on a tiny BERT emotion classifier the test builds, saves and loads back."""
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from semcodec.errors import SemcodecError  # noqa: E402
from semcodec.text.embed import embedder_status, packaged_model_dir, shared_embedder  # noqa: E402
from semcodec.text.emotion import CATEGORIES, ClassifierEmotion, EmotionScorer, emphasis  # noqa: E402

NEUTRAL = "The train leaves at nine."


@pytest.fixture(scope="module")
def scorer():
    ok, why = embedder_status()
    assert ok, why  # the packaged model is a test dependency
    return EmotionScorer(shared_embedder())


@pytest.mark.parametrize("line,category", [
    ("I hate you! Get out of my house!", "anger"),
    ("I'm so happy, this is the best day of my life!", "joy"),
    ("She's gone. I miss her so much, I can't stop crying.", "sadness"),
    ("Help! Please, they're going to kill us!", "fear"),
    ("Ugh, that's disgusting, it smells rotten.", "disgust"),
    ("Wow, I can't believe it, are you serious?", "surprise"),
])
def test_obvious_lines_get_their_category_and_more_intensity_than_neutral(scorer, line, category):
    e, n = scorer.score([line, NEUTRAL])
    assert e["category"] == category, e
    assert n["category"] == "neutral" and n["intensity"] < 0.1
    assert e["intensity"] > n["intensity"] + 0.3
    assert 0 <= e["intensity"] <= 1 and -1 <= e["valence"] <= 1
    assert sum(e["probabilities"].values()) == pytest.approx(1, abs=0.01)


def test_valence_sign_and_emphasis(scorer):
    joy, anger = scorer.score(["What a wonderful surprise, thank you!", "You ruined everything, you idiot."])
    assert joy["valence"] > 0.3 and anger["valence"] < -0.3
    calm, shout = scorer.score(["get out", "GET OUT!!!"])
    assert shout["intensity"] > calm["intensity"]
    assert emphasis("GET OUT!!!") > emphasis("get out") == 0


def test_vader_only_without_sentence_model():
    s = EmotionScorer(None)
    a, n = s.score(["I hate you, you are horrible!", NEUTRAL])
    assert s.method == "vader" and a["category"] in ("anger", "sadness") and a["intensity"] > n["intensity"]


def test_packaged_model_found_without_import():
    folder = packaged_model_dir()
    assert folder and folder.endswith("model")


def build_tiny_classifier(folder) -> str:
    """A 1-layer BERT sequence classifier with emotion labels, saved like a fine-tuned model would be."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = "i hate you love this is great the train leaves at nine get out so happy".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(words))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, num_labels=4,
                     id2label={0: "anger", 1: "joy", 2: "neutral", 3: "optimism"},
                     label2id={"anger": 0, "joy": 1, "neutral": 2, "optimism": 3})
    model = BertForSequenceClassification(cfg)
    with torch.no_grad():  # make the classifier answer by a word, so the test can check the mapping
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 0.0, 3.0, 0.0]))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    return build_tiny_classifier(tmp_path_factory.mktemp("emo_clf"))


def test_classifier_loads_from_folder_and_maps_labels(tiny_classifier):
    clf = ClassifierEmotion(tiny_classifier)
    assert clf.labels == ["anger", "joy", "neutral", "optimism"]
    assert clf.mapping == ["anger", "joy", "neutral", "joy"]  # optimism counts as joy
    res = clf.score(["I hate you", "the train leaves at nine", "words it never saw"])
    for r in res:
        assert r["category"] in CATEGORIES and set(r["labels"]) == set(clf.labels)
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=0.01)
        assert r["probabilities"]["joy"] == pytest.approx(r["labels"]["joy"] + r["labels"]["optimism"], abs=0.01)
    assert res[1]["category"] == "neutral"  # the bias the test set
    assert clf.method.startswith("classifier:")


def test_classifier_folder_errors(tmp_path, tiny_classifier):
    with pytest.raises(SemcodecError, match="not a folder"):
        ClassifierEmotion(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SemcodecError, match="cannot load an emotion classifier"):
        ClassifierEmotion(str(tmp_path / "empty"))
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(tiny_classifier)
    cfg.id2label = {i: f"LABEL_{i}" for i in range(4)}
    cfg.label2id = {v: k for k, v in cfg.id2label.items()}
    import shutil

    other = tmp_path / "unlabelled"
    shutil.copytree(tiny_classifier, other)
    cfg.save_pretrained(other)
    with pytest.raises(SemcodecError, match="name no emotion"):
        ClassifierEmotion(str(other))
