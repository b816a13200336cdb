"""Captioner and generator loading paths on tiny random models the tests build and save themselves
(no hub access: every load uses local_files_only=True)."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from semcodec.errors import SemcodecError  # noqa: E402


def _byte_vocab() -> list:
    """A tiny byte-level BPE vocabulary (no merges) usable by GPT2 and CLIP tokenizers."""
    # GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to 256 + n
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


@pytest.fixture(scope="module")
def tiny_captioner(tmp_path_factory):
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPT2Tokenizer,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
        ViTModel,
    )

    folder = tmp_path_factory.mktemp("captioner")
    torch.manual_seed(0)
    chars = _byte_vocab()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    enc = ViTModel(ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1,
                             num_attention_heads=2, intermediate_size=37))
    dec = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                                     add_cross_attention=True, bos_token_id=len(vocab) - 1,
                                     eos_token_id=len(vocab) - 1))
    model = VisionEncoderDecoderModel(encoder=enc, decoder=dec)
    model.config.decoder_start_token_id = len(vocab) - 1
    model.config.pad_token_id = len(vocab) - 1
    model.generation_config.decoder_start_token_id = len(vocab) - 1
    model.generation_config.pad_token_id = len(vocab) - 1
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def test_model_captioner_loads_locally_and_is_deterministic(tiny_captioner):
    from semcodec.semantic.caption import ModelCaptioner

    cap = ModelCaptioner(tiny_captioner, max_new_tokens=6)
    rgb = (np.random.default_rng(1).random((40, 60, 3)) * 255).astype(np.uint8)
    a, b = cap(rgb), cap(rgb)
    assert isinstance(a, str) and a == b


def test_captioner_errors(tmp_path):
    from semcodec.semantic.caption import ModelCaptioner

    with pytest.raises(SemcodecError, match="not found"):
        ModelCaptioner(str(tmp_path / "nope"))
    with pytest.raises(SemcodecError, match="cannot load captioner"):
        ModelCaptioner(str(tmp_path))


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    diffusers = pytest.importorskip("diffusers")
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("sd")
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8)
    vae = diffusers.AutoencoderKL(block_out_channels=[16, 32], in_channels=3, out_channels=3,
                                  down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                                  latent_channels=4, norm_num_groups=8, sample_size=32)
    chars = _byte_vocab()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(vocab) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    tdir = tmp_path_factory.mktemp("tok")
    (tdir / "vocab.json").write_text(json.dumps(vocab))
    (tdir / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tdir / "vocab.json"), str(tdir / "merges.txt"), model_max_length=16)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16,
                                        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                                        pad_token_id=vocab["<|endoftext|>"]))
    sched = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                             safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return str(folder)


@pytest.mark.parametrize("mode", ["img2img", "txt2img"])
def test_diffusers_generator_same_seed_same_output(tiny_sd, mode):
    from semcodec.semantic.generate import DiffusersGenerator

    gen = DiffusersGenerator(tiny_sd, steps=2, mode=mode, size=32, strength=0.8)
    guide = (np.random.default_rng(2).random((9, 16, 3)) * 255).astype(np.uint8)
    a = gen("a red car at the left", guide, 48, 32, seed=5)
    b = gen("a red car at the left", guide, 48, 32, seed=5)
    c = gen("a red car at the left", guide, 48, 32, seed=6)
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_generator_errors(tmp_path):
    pytest.importorskip("diffusers")
    from semcodec.semantic.generate import DiffusersGenerator

    with pytest.raises(SemcodecError, match="not found"):
        DiffusersGenerator(str(tmp_path / "nope"))
    with pytest.raises(SemcodecError, match="cannot load generator"):
        DiffusersGenerator(str(tmp_path))


def test_decode_with_generator_and_encode_with_captioner(tiny_sd, tiny_captioner, tmp_path, clips):
    from semcodec.semantic import decode_semantic, encode_semantic
    from semcodec.semantic import format as semz

    src = clips("semantic_models.mp4", frames=12, size=(64, 48), content="texture")
    rep = encode_semantic(src, str(tmp_path / "a.semz"), captioner=tiny_captioner)
    assert rep["captioner"].startswith("model:")
    f = semz.read(str(tmp_path / "a.semz"))
    assert f.captioner.startswith("model:")
    outs = []
    for name in ("g1.mp4", "g2.mp4"):
        r = decode_semantic(str(tmp_path / "a.semz"), str(tmp_path / name), generator=tiny_sd, steps=2, seed=3,
                            gen_size=32)
        assert r["frames"] == 12 and r["generator"].startswith("diffusers:")
        import av

        with av.open(str(tmp_path / name)) as c:
            outs.append(np.stack([fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]))
    assert np.array_equal(outs[0], outs[1])
