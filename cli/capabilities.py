"""`semcodec capabilities`: which encoders honour the block map, proven by a test encode."""
from __future__ import annotations


def register(sub) -> None:
    sub.add_parser("capabilities", help="per-codec ROI support table and a self-check encode",
                   description="Encode one second of noise per codec without and with a block map that favours "
                               "the left half (-8 QP left, +8 right), and show whether each encoder honours it: "
                               "the left half's error (MSE) without -> with the map, and the quantisers read "
                               "back from the output by FFmpeg's decoder (left / right half), where it exports "
                               "them (h264, vp9).").set_defaults(func=cmd_capabilities)


def _verdict(check: dict) -> str:
    verdict = "honoured" if check["honoured"] else "ignored"
    if "left_mse_plain" in check:
        verdict += f" (MSE {check['left_mse_plain']:g} -> {check['left_mse_roi']:g}"
        if check["identical"]:
            verdict += ", map attached, output byte-identical"
        verdict += ")"
    return verdict


def _readback(check: dict) -> str:
    if "decoder" not in check:
        return "-"
    if check["qp_roi"] is None:
        return f"not readable (FFmpeg's {check['decoder']} decoder exports none)"
    (pl, pr), (rl, rr) = check["qp_plain"], check["qp_roi"]
    unit = "q-index (0-255)" if check["qp_unit"] == "q-index" else check["qp_unit"]
    return f"{unit} {pl:g} / {pr:g} plain, {rl:g} / {rr:g} with map"


def cmd_capabilities(args) -> int:
    from semcodec.encoding.codecs import CAPABILITIES, self_check

    rows = [("codec", "block map", "block", "self-check (left-half MSE)", "read back: left / right half", "note")]
    for name, caps in CAPABILITIES.items():
        check = self_check(name)
        rows.append((name, "yes" if caps.roi else "no", str(caps.block), _verdict(check), _readback(check),
                     check["note"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[-1], sep="  ")
    return 0
