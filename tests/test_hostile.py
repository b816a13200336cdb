"""Hostile command lines across every subcommand, one table: each must exit with the documented code, say
one line naming the problem, leave every input byte-identical, put nothing at any output path and leave
no temporary file behind (beside the outputs or in TMPDIR)."""
import hashlib
import os
import shutil
import tempfile

import cv2
import numpy as np
import pytest

from cli.main import main
from conftest import make_clip

OLD = b"an older result the user wants to keep"


def tree_state(root) -> dict:
    """relative path -> sha256 (or 'dir') for everything under `root`, hidden files included."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            state[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                state[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return state


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Inputs every case may use: a video, a PNG, subtitles, a valid and a bogus .semz, old results."""
    root = tmp_path_factory.mktemp("hostile_assets")
    make_clip(root / "good.mp4", frames=16)
    rng = np.random.default_rng(1)
    cv2.imwrite(str(root / "img.png"), rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    (root / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:00,500\nHello there!\n")
    (root / "broken.srt").write_text("1\n00:00:00,000 --> garbage\n\x00\x01\n")
    (root / "notsemz.semz").write_bytes(b"SEMZ but not really" * 10)
    (root / "fake.onnx").write_bytes(b"not a model")
    (root / "existing.mp4").write_bytes(OLD)
    (root / "existing.json").write_bytes(OLD)
    (root / "existing.semz").write_bytes(OLD)
    (root / "kf").mkdir()
    (root / "kf" / "frame000000_00m00.000s.jpg").write_bytes(OLD)
    (root / "adir").mkdir()
    (root / "emptydir").mkdir()
    assert main(["semantic", "encode", str(root / "good.mp4"), "-o", str(root / "valid.semz"),
                 "--guide-size", "32", "-q"]) == 0
    return root


# (name, argv with {d} for the work folder, exit code, text the one error line must contain)
CASES = [
    # encode: side outputs against inputs and each other
    ("encode report is the input", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/good.mp4", 1, "is the input"),
    ("encode report is the output", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/o.mp4", 2, "same path"),
    ("encode maps are the output", "encode {d}/good.mp4 -o {d}/o.mp4 --save-maps {d}/o.mp4", 2, "same path"),
    ("encode maps are the input", "encode {d}/good.mp4 -o {d}/o.mp4 --save-maps {d}/good.mp4", 1, "is the input"),
    ("encode report is the subtitles", "encode {d}/good.mp4 -o {d}/o.mp4 --subtitles {d}/subs.srt "
                                       "--report {d}/subs.srt", 1, "is the input"),
    ("encode output is the subtitles", "encode {d}/good.mp4 -o {d}/subs.srt --subtitles {d}/subs.srt", 1,
     "is the input"),
    ("encode report via dot-dot", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/adir/../good.mp4", 1, "is the input"),
    ("encode report folder missing", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/nodir/r.json", 1,
     "report folder does not exist"),
    ("encode report is a folder", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/adir", 1, "is a folder"),
    ("encode output is a folder", "encode {d}/good.mp4 -o {d}/adir.mp4 --report {d}/adir", 1, "is a folder"),
    ("encode existing output", "encode {d}/good.mp4 -o {d}/existing.mp4", 1, "already exists"),
    ("encode existing report", "encode {d}/good.mp4 -o {d}/o.mp4 --report {d}/existing.json", 1, "already exists"),
    ("encode report and json both stdout", "encode {d}/good.mp4 -o {d}/o.mp4 --report - --json", 2, "stdout"),
    ("encode output to stdout", "encode {d}/good.mp4 -o -", 2, "needs a regular file"),
    ("encode output to a device", "encode {d}/good.mp4 -o /dev/null", 2, "needs a regular file"),
    ("encode -y and -n", "encode {d}/good.mp4 -o {d}/o.mp4 -y -n", 2, "not allowed with"),
    ("encode unknown option", "encode {d}/good.mp4 -o {d}/o.mp4 --frobnicate", 2, "unrecognized arguments"),
    ("encode missing input", "encode {d}/missing.mp4 -o {d}/o.mp4", 1, "not found"),
    ("encode empty batch folder", "encode {d}/emptydir -o {d}/adir", 1, "no video files"),
    ("encode input is a PNG named .mp4", "encode {d}/notsemz.semz -o {d}/o.mp4", 1, "not a readable video"),
    ("encode unsupported extension", "encode {d}/good.mp4 -o {d}/o.avi", 2, "unsupported output type .avi"),
    ("encode crf too high", "encode {d}/good.mp4 -o {d}/o.mp4 --crf 99", 2, "--crf"),
    ("encode crf negative", "encode {d}/good.mp4 -o {d}/o.mp4 --crf -5", 2, "--crf"),
    ("encode crf nan", "encode {d}/good.mp4 -o {d}/o.mp4 --crf nan", 2, "--crf"),
    ("encode crf inf", "encode {d}/good.mp4 -o {d}/o.mp4 --crf inf", 2, "--crf"),
    ("encode vp9 crf too high", "encode {d}/good.mp4 -o {d}/o.mkv --codec libvpx-vp9 --crf 64", 2, "--crf"),
    ("encode bogus preset", "encode {d}/good.mp4 -o {d}/o.mp4 --preset bogus", 2, "--preset"),
    ("encode bitrate 1", "encode {d}/good.mp4 -o {d}/o.mp4 --bitrate 1", 2, "--bitrate"),
    ("encode bitrate text", "encode {d}/good.mp4 -o {d}/o.mp4 --bitrate fast", 2, "--bitrate"),
    ("encode crf and bitrate", "encode {d}/good.mp4 -o {d}/o.mp4 --crf 20 --bitrate 100k", 2, "not allowed with"),
    ("encode strength nan", "encode {d}/good.mp4 -o {d}/o.mp4 --roi-strength nan", 2, "--roi-strength"),
    ("encode emotion strength nan", "encode {d}/good.mp4 -o {d}/o.mp4 --emotion-strength nan", 2,
     "--emotion-strength"),
    ("encode roi bogus", "encode {d}/good.mp4 -o {d}/o.mp4 --roi faces,bogus", 2, "unknown analyzer"),
    ("encode fake yolo weights in auto", "encode {d}/good.mp4 -o {d}/o.mp4 --roi auto --yolo-weights "
                                         "{d}/fake.onnx", 1, "--yolo-weights"),
    ("encode missing yolo weights", "encode {d}/good.mp4 -o {d}/o.mp4 --yolo-weights {d}/none.onnx", 1,
     "--yolo-weights"),
    ("encode workers 0", "encode {d}/good.mp4 -o {d}/o.mp4 --workers 0", 2, "--workers"),
    ("encode chunk length nan", "encode {d}/good.mp4 -o {d}/o.mp4 --chunk-min-s nan", 2, "--chunk-min-s"),
    ("encode missing subtitles", "encode {d}/good.mp4 -o {d}/o.mp4 --subtitles {d}/none.srt", 1, "not found"),
    ("encode broken subtitles", "encode {d}/good.mp4 -o {d}/o.mp4 --subtitles {d}/broken.srt", 1, "broken.srt"),
    ("encode keyframes-from a video", "encode {d}/good.mp4 -o {d}/o.mp4 --keyframes-from {d}/good.mp4", 1,
     "good.mp4"),
    ("encode log file folder missing", "encode {d}/good.mp4 -o {d}/o.mp4 --log-file {d}/nodir/l.log", 1,
     "--log-file"),
    # tag
    ("tag json is the input", "tag {d}/good.mp4 --json {d}/good.mp4", 1, "is the input"),
    ("tag sheet is the PNG input", "tag {d}/img.png --contact-sheet {d}/img.png", 1, "is the input"),
    ("tag json and sheet same path", "tag {d}/good.mp4 --json {d}/a.png --contact-sheet {d}/a.png", 2, "same path"),
    ("tag json and sheet both stdout", "tag {d}/good.mp4 --json - --contact-sheet -", 2, "stdout"),
    ("tag existing json", "tag {d}/good.mp4 --json {d}/existing.json", 1, "already exists"),
    ("tag json folder missing", "tag {d}/good.mp4 --json {d}/nodir/t.json", 1, "json folder does not exist"),
    ("tag sample fps nan", "tag {d}/good.mp4 --sample-fps nan", 2, "--sample-fps"),
    ("tag sample fps 0", "tag {d}/good.mp4 --sample-fps 0", 2, "--sample-fps"),
    ("tag max keyframes 0", "tag {d}/good.mp4 --max-keyframes 0", 2, "--max-keyframes"),
    ("tag sheet gif", "tag {d}/good.mp4 --contact-sheet {d}/s.gif", 2, "--contact-sheet"),
    ("tag keyframes dir is a file", "tag {d}/good.mp4 --keyframes-dir {d}/good.mp4", 1, "is the input"),
    ("tag keyframes dir is a json file", "tag {d}/good.mp4 --keyframes-dir {d}/existing.json", 1, "not a folder"),
    ("tag keyframes dir holds keyframes", "tag {d}/good.mp4 --keyframes-dir {d}/kf", 1, "already exists"),
    ("tag json inside keyframes dir", "tag {d}/good.mp4 --keyframes-dir {d}/kf2 --json {d}/kf2", 2, "same path"),
    ("tag missing clip model", "tag {d}/good.mp4 --clip-model {d}/nomodel", 1, "nomodel"),
    ("tag missing subtitles", "tag {d}/good.mp4 --subtitles {d}/none.srt", 1, "not found"),
    ("tag missing input", "tag {d}/missing.mp4", 1, "not found"),
    # analyze
    ("analyze json is the input", "analyze {d}/good.mp4 --prompt face --json {d}/good.mp4", 1, "is the input"),
    ("analyze plot is the PNG input", "analyze {d}/img.png --prompt face --plot {d}/img.png", 1, "is the input"),
    ("analyze plot is the subtitles", "analyze {d}/good.mp4 --subtitles {d}/subs.srt --json {d}/subs.srt", 1,
     "is the input"),
    ("analyze json and plot same path", "analyze {d}/good.mp4 --prompt face --json {d}/p.png --plot {d}/p.png", 2,
     "same path"),
    ("analyze nothing to analyze", "analyze {d}/good.mp4 --json {d}/a.json", 2, "--subtitles"),
    ("analyze plot gif", "analyze {d}/good.mp4 --prompt face --plot {d}/p.gif", 2, "--plot"),
    ("analyze sample fps nan", "analyze {d}/good.mp4 --prompt face --sample-fps nan", 2, "--sample-fps"),
    ("analyze encoded missing", "analyze {d}/good.mp4 --prompt face --plot {d}/p.png --encoded {d}/none.mp4", 1,
     "not found"),
    ("analyze existing json", "analyze {d}/good.mp4 --prompt face --json {d}/existing.json", 1, "already exists"),
    # semantic
    ("semantic json is the input", "semantic encode {d}/good.mp4 -o {d}/s.semz --json {d}/good.mp4", 1,
     "is the input"),
    ("semantic json is the output", "semantic encode {d}/good.mp4 -o {d}/s.semz --json {d}/s.semz", 2, "same path"),
    ("semantic output not semz", "semantic encode {d}/good.mp4 -o {d}/s.mp4", 2, ".semz"),
    ("semantic existing output", "semantic encode {d}/good.mp4 -o {d}/existing.semz", 1, "already exists"),
    ("semantic guide every nan", "semantic encode {d}/good.mp4 -o {d}/s.semz --guide-every nan", 2, "--guide-every"),
    ("semantic hybrid threshold nan", "semantic encode {d}/good.mp4 -o {d}/s.semz --hybrid-threshold nan", 2,
     "--hybrid-threshold"),
    ("semantic decode to its input", "semantic decode {d}/valid.semz -o {d}/valid.semz", 1, "is the input"),
    ("semantic decode bogus file", "semantic decode {d}/notsemz.semz -o {d}/o.mp4", 1, "not a valid .semz"),
    ("semantic decode existing output", "semantic decode {d}/valid.semz -o {d}/existing.mp4", 1, "already exists"),
    ("semantic decode steps 0", "semantic decode {d}/valid.semz -o {d}/o.mp4 --steps 0", 2, "--steps"),
    ("semantic decode missing generator", "semantic decode {d}/valid.semz -o {d}/o.mp4 --generator {d}/nomodel", 1,
     "nomodel"),
    # bench
    ("bench crf list with a bad point", "bench {d}/good.mp4 --crf 30,-4 --out {d}/b", 2, "-4"),
    ("bench crf text", "bench {d}/good.mp4 --crf abc --out {d}/b", 2, "abc"),
    ("bench out is a file", "bench {d}/good.mp4 --crf 30 --out {d}/existing.json", 1, "not a folder"),
    ("bench out is the input", "bench {d}/good.mp4 --crf 30 --out {d}/good.mp4", 1, "is the input"),
    ("bench no rate", "bench {d}/good.mp4 --out {d}/b", 2, "one of the arguments"),
    ("bench missing input", "bench {d}/missing.mp4 --crf 23 --out {d}/b", 1, "not found"),
    ("bench unknown mode", "bench {d}/good.mp4 --crf 23 --modes nope --out {d}/b", 2, "unknown mode"),
    # the command itself
    ("no command", "", 2, "required"),
    ("unknown command", "transmogrify {d}/good.mp4", 2, "invalid choice"),
]


@pytest.mark.parametrize("name,argv,code,message", CASES, ids=[c[0] for c in CASES])
def test_hostile_case(assets, tmp_path, monkeypatch, cli, name, argv, code, message):
    work = tmp_path / "w"
    shutil.copytree(assets, work)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    before = tree_state(work)
    rc, out, err = cli(*argv.format(d=work).split())
    lines = err.strip().splitlines()
    assert rc == code, err
    assert len(lines) == 1, err  # one line naming the problem, no traceback
    assert lines[0].startswith("semcodec: error: ") and message in lines[0], lines[0]
    assert out == ""
    assert tree_state(work) == before  # inputs untouched, nothing at any output, no temp file
    assert os.listdir(tmpdir) == []


def test_the_table_is_large():
    assert len(CASES) >= 60
    assert {c[1].split()[0] for c in CASES if c[1]} >= {"encode", "tag", "analyze", "semantic", "bench"}
