"""`semcodec capabilities`: which encoders honour the block map, proven by a test encode."""
from __future__ import annotations


def register(sub) -> None:
    sub.add_parser("capabilities", help="per-codec ROI support table and a self-check encode",
                   description="Encode one second of video per codec with and without a block map and "
                               "show whether each encoder honours it.").set_defaults(func=cmd_capabilities)


def cmd_capabilities(args) -> int:
    from semcodec.encoding.codecs import CAPABILITIES, self_check

    print(f"{'codec':<12} {'block map':<10} {'block':<6} {'self-check':<28} note")
    for name, caps in CAPABILITIES.items():
        check = self_check(name)
        verdict = "honoured" if check["honoured"] else "ignored"
        if "left_mse_plain" in check:
            verdict += f" (MSE {check['left_mse_plain']} -> {check['left_mse_roi']})"
        print(f"{name:<12} {'yes' if caps.roi else 'no':<10} {caps.block:<6} {verdict:<28} {check['note']}")
    return 0
