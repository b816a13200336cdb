"""The CLIP path of `semcodec tag`: a tiny random CLIP the test builds and saves, loaded back from the
folder with local_files_only (the real loading code), and used to classify shots zero-shot."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from cli.main import main  # noqa: E402
from conftest import make_clip  # noqa: E402
from semcodec.errors import SemcodecError  # noqa: E402
from semcodec.scenes.classify import CLASSES  # noqa: E402
from semcodec.scenes.clip import PROMPTS, TAG_PHRASES, ClipScenes  # noqa: E402
from semcodec.tagging.tagger import tag_video  # noqa: E402


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    text = " ".join(list(PROMPTS.values()) + TAG_PHRASES).lower().split()
    words = ["[PAD]", "[UNK]", "<s>", "</s>"] + sorted(set(text))
    tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="<s>",
                                   eos_token="</s>")
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=2, eos_token_id=3,
                         pad_token_id=0),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2),
        projection_dim=16)
    folder = tmp_path_factory.mktemp("tinyclip")
    CLIPModel(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def test_loads_from_folder_and_classifies(tiny_clip):
    clip = ClipScenes(tiny_clip)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    label, conf, probs, tags = clip.classify(images)
    assert label in CLASSES and set(probs) == set(CLASSES)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3) and conf == pytest.approx(max(probs.values()), abs=1e-3)
    assert len(tags) == 5 and all(0 <= s <= 1 for _, s in tags)
    # the answer depends on the picture: a different image gives a different embedding
    other = clip.image_embedding([np.zeros((48, 64, 3), np.uint8)])
    assert not np.allclose(clip.image_embedding(images), other)


def test_tag_with_clip(tiny_clip, tmp_path):
    src = make_clip(tmp_path / "cut.mp4", frames=40, content="texture_then_face")
    result, _ = tag_video(src, clip_model=tiny_clip)
    assert result["analyzers"]["scene"].startswith("clip:")
    for s in result["shots"]:
        assert s["scene"]["method"].startswith("clip:") and s["scene"]["rules"]["class"] in CLASSES
        assert any(t["kind"] == "clip" for t in s["tags"])
    json.dumps(result)


def test_bad_clip_folder(tmp_path, capsys):
    with pytest.raises(SemcodecError, match="not a folder"):
        ClipScenes(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SemcodecError, match="cannot load CLIP"):
        ClipScenes(str(tmp_path / "empty"))
    src = make_clip(tmp_path / "c.mp4", frames=8)
    assert main(["tag", src, "--clip-model", str(tmp_path / "empty"), "-q"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
