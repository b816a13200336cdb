"""Target quality per shot: the CRF search (`semcodec crf-search`) and encodes to a VMAF or face-quality target
(`semcodec encode --target-vmaf/--target-roi-vmaf/--target-face-psnr`)."""
from semcodec.target.shots import ShotResult, TargetMissed, search_chunk, search_shot
from semcodec.target.spec import Goal, TargetSpec
from semcodec.target.video import VideoSearch, encode_chunked, encode_single, search_video

__all__ = ["Goal", "ShotResult", "TargetMissed", "TargetSpec", "VideoSearch", "encode_chunked", "encode_single",
           "search_chunk", "search_shot", "search_video"]
