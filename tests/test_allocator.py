"""Importance map -> per-block QP offsets: sign, rate neutrality in the model, levels, strength."""
import cv2
import numpy as np
import pytest

from conftest import texture_image
from semcodec.allocation.allocator import PAYER_CAP_QP, Allocator, BlockGrid

AW, AH = 160, 96  # analysis resolution


def gray_texture(seed: int = 3, size=(AW, AH)) -> np.ndarray:
    return cv2.cvtColor(texture_image(size[1], size[0], seed), cv2.COLOR_RGB2GRAY)


def random_importance(rng, size=(AW, AH)) -> np.ndarray:
    """Smooth random importance in [0, 1] with a few bright blobs."""
    w, h = size
    imp = cv2.resize(rng.random((4, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(1, 4)):
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(6, 30)
        cv2.circle(imp, (int(cx), int(cy)), int(r), 1.0, -1)
    return np.clip(imp, 0, 1).astype(np.float32)


def model_rate(alloc: Allocator, gray: np.ndarray, dq: np.ndarray) -> float:
    """The allocator's own rate model relative to no offsets: sum(w * 2^(-dq/6)) / sum(w)."""
    w = alloc.activity(gray)
    return float((w * np.exp2(-dq / 6.0)).sum() / w.sum())


@pytest.mark.parametrize("w,h,block,shape", [(160, 96, 16, (6, 10)), (161, 97, 16, (7, 11)),
                                             (1920, 1080, 16, (68, 120)), (128, 96, 8, (12, 16)),
                                             (100, 60, 64, (1, 2))])
def test_block_grid_shape_rounds_up(w, h, block, shape):
    assert BlockGrid(w, h, block).shape == shape


def test_offsets_on_the_encoder_grid_from_analysis_resolution():
    grid = BlockGrid(1280, 720, 16)  # analysis at 320x180, encoder grid 45x80
    alloc = Allocator(grid, 12.75)
    rng = np.random.default_rng(0)
    dq = alloc.offsets(random_importance(rng, (320, 180)), gray_texture(1, (320, 180)))
    assert dq.shape == grid.shape == (45, 80)
    assert dq.dtype == np.float32


def test_important_blocks_get_negative_offsets_the_rest_positive():
    grid = BlockGrid(AW, AH, 16)
    alloc = Allocator(grid, 12.75, payer_cap=None)
    imp = np.zeros((AH, AW), np.float32)
    imp[32:64, 48:112] = 1.0  # block rows 2-3, block columns 3-6
    dq = alloc.offsets(imp, gray_texture())
    hot = np.zeros(grid.shape, bool)
    hot[2:4, 3:7] = True
    assert (dq[hot] < 0).all()
    assert (dq[~hot] > 0).all()
    # the spread between important and unimportant blocks is the strength (up to rounding)
    assert dq[~hot].min() - dq[hot].max() == pytest.approx(12.75, abs=0.5)


@pytest.mark.parametrize("seed", range(10))
def test_rate_neutral_in_the_model(seed):
    rng = np.random.default_rng(seed)
    strength = float(rng.choice([4.0, 12.75, 25.5]))
    grid = BlockGrid(AW, AH, int(rng.choice([8, 16])))
    imp, gray = random_importance(rng), gray_texture(seed)
    exact = Allocator(grid, strength, step=0, payer_cap=None)  # no rounding: the balance is closed-form
    dq = exact.offsets(imp, gray)
    assert np.abs(dq).max() < strength  # clamping is not hit
    assert model_rate(exact, gray, dq) == pytest.approx(1.0, abs=1e-4)
    assert dq.min() < 0 < dq.max()  # the important blocks are paid for by the rest

    rounded = Allocator(grid, strength, payer_cap=None)  # default half-QP steps
    dq_r = rounded.offsets(imp, gray)
    np.testing.assert_array_equal(dq_r * 2, np.rint(dq_r * 2))
    assert model_rate(rounded, gray, dq_r) == pytest.approx(1.0, abs=0.03)


def test_payers_rise_at_most_the_cap_on_a_still_background():
    """A face that alone moves on a still, textured set: the temporal cost model sees bits only in the face,
    so the balance would lift the background by most of the strength; the cap holds it at +2 QP and keeps
    the face's full advantage."""
    grid = BlockGrid(AW, AH, 16)
    prev = gray_texture(4)
    cur = prev.copy()
    cur[32:64, 48:112] = np.roll(prev[32:64, 48:112], 3, axis=1)  # only the face region changes
    imp = np.zeros((AH, AW), np.float32)
    imp[32:64, 48:112] = 1.0
    hot = np.zeros(grid.shape, bool)
    hot[2:4, 3:7] = True
    uncapped = Allocator(grid, 12.75, payer_cap=None).offsets(imp, cur, prev_gray=prev)
    assert uncapped[~hot].max() > 6  # what the cap is for
    capped = Allocator(grid, 12.75).offsets(imp, cur, prev_gray=prev)
    assert capped.max() == pytest.approx(PAYER_CAP_QP)
    np.testing.assert_array_equal(capped[hot], uncapped[hot])  # the favoured blocks keep their offsets
    assert (capped[~hot] == PAYER_CAP_QP).all()


@pytest.mark.parametrize("seed", range(5))
def test_more_important_never_gets_a_coarser_quantiser(seed):
    rng = np.random.default_rng(100 + seed)
    grid = BlockGrid(AW, AH, 16)
    alloc = Allocator(grid, 12.75)
    imp = random_importance(rng)
    dq = alloc.offsets(imp, gray_texture(seed))
    block_imp = alloc.block_mean(imp).ravel()
    order = np.argsort(block_imp, kind="stable")
    assert (np.diff(dq.ravel()[order]) <= 0).all()


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_uniform_importance_gives_no_offsets(value):
    alloc = Allocator(BlockGrid(AW, AH, 16), 12.75)
    dq = alloc.offsets(np.full((AH, AW), value, np.float32), gray_texture())
    assert (dq == 0).all()


@pytest.mark.parametrize("levels", [None, 7])
def test_strength_zero_gives_all_zeros(levels):
    rng = np.random.default_rng(5)
    alloc = Allocator(BlockGrid(AW, AH, 8), 0.0, levels=levels)
    dq = alloc.offsets(random_importance(rng), gray_texture())
    assert (dq == 0).all()


@pytest.mark.parametrize("levels,strength", [(7, 63 / 4 * 0.25), (7, 15.75), (5, 10.0), (8, 12.0), (3, 6.0)])
@pytest.mark.parametrize("seed", range(3))
def test_levels_limit_distinct_offsets(levels, strength, seed):
    """`levels` = at most that many distinct non-zero offsets (VP9: 7 segments besides 'unchanged');
    the code uses a symmetric set of +-(levels // 2) steps, so 0 plus at most 2 * (levels // 2) values."""
    rng = np.random.default_rng(seed)
    alloc = Allocator(BlockGrid(AW, AH, 8), strength, levels=levels)
    dq = alloc.offsets(random_importance(rng), gray_texture(seed))
    values = np.unique(dq)
    nonzero = values[values != 0]
    assert len(nonzero) <= levels
    assert len(values) <= 2 * (levels // 2) + 1
    unit = max(strength / (levels // 2), alloc.step)
    np.testing.assert_allclose(values / unit, np.rint(values / unit), atol=1e-5)
    assert np.abs(dq).max() <= levels // 2 * unit + 1e-6
    assert len(nonzero) >= 1  # the map is not flattened away


def test_vp9_levels_keep_the_model_roughly_balanced():
    rng = np.random.default_rng(11)
    strength = 63 / 4 * 0.25  # what the pipeline uses for libvpx-vp9 at the default strength
    alloc = Allocator(BlockGrid(AW, AH, 8), strength, levels=7)
    rates = [model_rate(alloc, g, alloc.offsets(random_importance(rng), g))
             for g in (gray_texture(s) for s in range(6))]
    assert np.mean(rates) == pytest.approx(1.0, abs=0.05)


def test_single_level_does_not_crash():
    alloc = Allocator(BlockGrid(AW, AH, 8), 6.0, levels=1)
    dq = alloc.offsets(random_importance(np.random.default_rng(0)), gray_texture())
    assert len(np.unique(dq[dq != 0])) <= 1


def test_cost_keeps_the_last_frame_smoothed_without_changing_it():
    """cost() reuses the previous frame's blur when it is given the same frame again: the same numbers as a fresh
    allocator, in sequence, out of order and with an equal but different array."""
    grid = BlockGrid(AW, AH, 16)
    rng = np.random.default_rng(5)
    frames = [np.clip(gray_texture(3).astype(np.int16) + rng.integers(-20, 20, (AH, AW)), 0, 255).astype(np.uint8)
              for _ in range(4)]
    kept = Allocator(grid, 10.0)
    pairs = [(1, 0), (2, 1), (3, 2), (1, 3), (0, 0)]
    for cur, prev in pairs:
        fresh = Allocator(grid, 10.0).cost(frames[cur], frames[prev].copy())
        assert np.array_equal(kept.cost(frames[cur], frames[prev]), fresh)
    assert not np.array_equal(kept.cost(frames[2], frames[1]), kept.activity(frames[2]))  # temporal term present


def test_activity_of_8_bit_frames_is_the_float_sobel_measure():
    """The 8-bit path (integer gradients in one pass) gives the float Sobel magnitude's block means exactly."""
    grid = BlockGrid(AW, AH, 16)
    alloc = Allocator(grid, 10.0)
    for seed in (1, 2, 3):
        gray = gray_texture(seed)
        g = gray.astype(np.float32)
        grad = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
        act = alloc.block_mean(grad)
        assert np.array_equal(alloc.activity(gray), act + 0.2 * float(act.mean()) + 1e-3)
        assert np.array_equal(alloc.activity(gray), alloc.activity(g))  # float input: the float path
