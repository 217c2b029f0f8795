"""A tiny labelled corpus in the shared corpora's JSONL format: enough to train a model
in a second, so tests of training, the CLI and the pipeline run a real model."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

__all__ = ["TEMPLATES", "records", "train_tiny_model", "write_jsonl"]

ITEMS = ("kettle", "lamp", "blender", "backpack", "scarf", "charger", "mug", "helmet", "tent")
ZH_ITEMS = ("水壶", "台灯", "背包", "围巾", "充电器", "杯子", "头盔", "帐篷", "外套")
TEMPLATES = {
    "ham": (
        "Hello, my {en} arrived yesterday but the box was damaged. Could you send a replacement?",
        "请问{zh}什么时候发货？我想周末之前收到，谢谢。",
    ),
    "spam": (
        "Cheap {en} deals!!! Buy now, limited offer, free casino bonus, unsubscribe anytime.",
        "{zh}特价促销，加微信领优惠券，代开发票，兼职日赚三百。",
    ),
    "fraud": (
        "Your account is suspended. Verify your password and bank card within 24 hours "
        "about the {en} refund.",
        "您的{zh}订单异常，请提供银行卡号和验证码，否则账户冻结。",
    ),
    "inappropriate": (
        "You stupid idiot, your {en} is garbage, shut up and go to hell.",
        "你这个白痴，{zh}是垃圾，滚远点，恶心死了。",
    ),
}


def records(source_prefix: str = "tiny") -> Iterator[dict[str, str]]:
    for label, (en, zh) in TEMPLATES.items():
        for n, (item, zh_item) in enumerate(zip(ITEMS, ZH_ITEMS, strict=True)):
            for lang, text in (("en", en.format(en=item)), ("zh", zh.format(zh=zh_item))):
                yield {
                    "id": f"{source_prefix}:{label}:{lang}:{n}",
                    "label": label,
                    "lang": lang,
                    "source": f"{source_prefix}/{label}",
                    "subject": "",
                    "body": text,
                }


def write_jsonl(path: Path, rows: Iterator[dict[str, str]] | list[dict[str, str]]) -> Path:
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path.write_text(lines, encoding="utf-8")
    return path


def train_tiny_model(folder: Path) -> Path:
    """A model file trained on :func:`records` with ``maild train`` (about a second)."""
    from maild.cli import main  # here: the corpus helpers need no maild

    corpus = write_jsonl(folder / "tiny.jsonl.gz", records())
    out = folder / "model.npz"
    assert main(["train", "--data", str(corpus), "--out", str(out), "--seed", "3"]) == 0
    return out
