"""Drafts per second through :func:`maild.outbound.policy.check`, on one core.

    PYTHONPATH=. .venv/bin/python bench/policy_speed.py [--count 5000] [--rounds 5] [--seed 0]

#8 asks for at least 5,000 drafts/s for typical replies (about 500 characters).
Every draft is different: order IDs, tracking numbers, amounts, dates and the
sentence mix vary by a seeded generator, so the phone-number cache and the
regex engine see what they would see in production, not one string again and
again. Three kinds are timed, interleaved round by round so machine noise hits
them alike, and the median of the rounds is printed and written to
``bench/results/policy-speed-TIMESTAMP.json``:

* ``typical-en`` and ``typical-zh``: a clean reply (about 560 and 300 characters)
  naming an order, a tracking number, a price, a date and the allowed domain;
* ``violating``: either, with one violation spliced in (a disguised link, a phone
  number, a WeChat ID or a coupon), since violations cost hints and look-ups;
* ``long``: a clean reply of about 4,300 characters (ten typical paragraphs).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from maild.outbound.policy import Draft, OutboundPolicy, check
from maild.threads.presets import load_preset

_ENGLISH = (
    "Hi {name}, thank you for contacting us about order {order}. We are sorry the item "
    "arrived damaged. A replacement shipped on {date} with UPS, tracking number {ups}; "
    "it should arrive within 3-5 business days. We have also refunded ${price} for the "
    "shipping cost, which you will see in Your Orders on amazon.com within two days. "
    "If anything else is wrong, please reply to this message and we will help. We have "
    "also passed your note about the packaging to our warehouse, so that the next "
    "parcels are packed with more care. Kind regards, the Acme Home team."
)
_CHINESE = (
    "亲爱的{name}您好，感谢您的耐心等待。您的订单{order}已于{date}重新发出，顺丰快递单号："
    "SF{sf}，预计3-5天送达。运费{price}元已原路退回，请在amazon.com的订单页面查看。"
    "如果还有任何问题，请直接回复此消息，我们会尽快为您处理。祝您生活愉快！"
    "给您带来的不便我们深表歉意，商品质量问题我们会反馈给工厂改进。新的包裹我们已经加固了包装，"
    "并附上了安装说明书。如果您收到后发现任何配件缺失，请拍照后通过平台消息发给我们，"
    "我们会在24小时内为您补发。再次感谢您对本店的支持与理解。"
)
_VIOLATIONS = (
    " Visit example[.]com for more.",
    " Call us at +1 415-555-2671.",
    " 加我微信：shop_abc123。",
    " Here is a coupon for you.",
)


def _reply(rng: random.Random, templates: tuple[str, ...] = (_ENGLISH, _CHINESE)) -> str:
    fields = {
        "name": rng.choice(["Emma", "Liam", "小王", "李女士"]),
        "order": "-".join(str(rng.randrange(10**n, 10 ** (n + 1) - 1)) for n in (2, 6, 6)),
        "date": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "ups": f"1Z{rng.randrange(10**15, 10**16)}",
        "sf": str(rng.randrange(10**12, 10**13)),
        "price": f"{rng.randrange(1, 500)}.{rng.randrange(100):02d}",
    }
    return rng.choice(templates).format(**fields)


def _drafts(kind: str, count: int, rng: random.Random) -> list[Draft]:
    if kind == "long":
        return [Draft("\n\n".join(_reply(rng) for _ in range(10))) for _ in range(count)]
    if kind == "violating":
        return [Draft(_reply(rng) + rng.choice(_VIOLATIONS)) for _ in range(count)]
    template = _CHINESE if kind == "typical-zh" else _ENGLISH
    return [Draft(_reply(rng, (template,))) for _ in range(count)]


def _rate(drafts: list[Draft], policy: OutboundPolicy) -> float:
    started = time.perf_counter()
    for draft in drafts:
        check(draft, policy)
    return len(drafts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="drafts per kind and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    patterns = tuple(p.regex for p in load_preset("amazon").patterns if not p.needs_keyword)
    policy = OutboundPolicy(allowed_domains=("amazon.com",), protected=patterns)
    rng = random.Random(args.seed)
    kinds = {
        "typical-en": _drafts("typical-en", args.count, rng),
        "typical-zh": _drafts("typical-zh", args.count, rng),
        "violating": _drafts("violating", args.count, rng),
        "long": _drafts("long", max(1, args.count // 10), rng),
    }
    check(Draft("warm-up: example.com 13812345678 coupon"), policy)  # compile, load data
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind, drafts in kinds.items():
            rates[kind].append(_rate(drafts, policy))
    results = {
        kind: {
            "mean_chars": round(statistics.mean(len(d.text) for d in drafts)),
            "drafts_per_s": round(statistics.median(rates[kind])),
        }
        for kind, drafts in kinds.items()
    }
    print(f"policy check, one core, median of {args.rounds} rounds")
    for kind, result in results.items():
        print(f"{kind:10} {result['mean_chars']:6} chars  {result['drafts_per_s']:9,} drafts/s")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(__file__).resolve().parent / "results" / f"policy-speed-{stamp}.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
