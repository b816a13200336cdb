"""encode(): input video -> analysis -> importance maps -> block QP offsets -> real FFmpeg encoder.

The stages, each a module with one job:
  settings   EncodeSettings (user intent), ChunkRange (which frames), Execution (threads, audio, progress)
  keyframes  KeyframePolicy: IDR at cuts from a shot plan or a streaming detector
  planner    FramePlanner: one analysis frame -> one QpMap (semcodec.encoding.qpmap)
  loop       one encoder pass: decode, plan on a worker thread, attach, encode, mux
  job        set-up, the passes, the EncodeReport (report)
"""
from semcodec.pipeline.job import budget_pass, encode, first_pass, fit_rate, run
from semcodec.pipeline.report import EncodeReport
from semcodec.pipeline.settings import DEFAULT_CRF, ChunkRange, EncodeSettings, Execution

__all__ = ["DEFAULT_CRF", "ChunkRange", "EncodeReport", "EncodeSettings", "Execution", "budget_pass", "encode",
           "first_pass", "fit_rate", "run"]
