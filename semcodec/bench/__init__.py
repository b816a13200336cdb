"""Rate-distortion benchmarking: encode clips at several rate points and modes, measure standard and
ROI-aware quality, speed, and BD-rate; write results.json/csv, RD plots and a self-contained report.

Modules: modes (what a point is), masks (region sources), xpsnr / roi_metrics / measure (scores),
bd (Bjøntegaard deltas), results (schema, CSV, derived fields), plots + report (outputs), runner (the loop).
"""
from semcodec.bench.bd import bd
from semcodec.bench.measure import measure
from semcodec.bench.modes import RatePoint, parse_modes, parse_points
from semcodec.bench.results import SCHEMA, bd_between
from semcodec.bench.runner import BenchSettings, run_bench

__all__ = ["SCHEMA", "BenchSettings", "RatePoint", "bd", "bd_between", "measure", "parse_modes", "parse_points",
           "run_bench"]
