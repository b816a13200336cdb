"""Shot-chunked parallel encoding (Av1an-like), on local processes or a Ray cluster, resumable.

    plan:   index the input (packet timestamps, no decode) + detect shots -> chunks at shot boundaries,
            each between a minimum and a maximum length (semcodec.parallel.chunks)
    encode: every chunk through the normal pipeline, restricted to its frame range, into its own file
            in a work folder; a manifest with checksums makes the job resumable (manifest.py, worker.py)
    join:   remux the chunks' packets into one file, timestamps rewritten to the input's own, audio
            copied once from the input (join.py)

Entry points: encode_parallel() and encode_batch() (runner.py, batch.py).
"""
from semcodec.parallel.batch import encode_batch, find_videos
from semcodec.parallel.chunks import plan_chunks
from semcodec.parallel.runner import ParallelOptions, encode_parallel

__all__ = ["ParallelOptions", "encode_parallel", "encode_batch", "find_videos", "plan_chunks"]
