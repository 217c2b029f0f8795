"""maild's built-in vocabulary for the ``urgent`` and ``escalated`` tags, English and Chinese.

What makes a message urgent for a marketplace seller is risk, not hurry: a product
that burns, shocks or injures, a complaint to a regulator, a lawyer or a court, a
payment dispute. Each word here was chosen so that it rarely appears otherwise in
customer-service mail; words that do ("fire", "工商", "爆炸") come with the
exceptions that take the common harmless phrases out ("Fire TV", "工商银行",
"爆炸款"). Presets add their own words to both lists (see
:class:`~maild.classify.tagrules.TagRules`). Matching is case-insensitive, spacing
and hyphens are free, and a final Latin letter may take a plural "s".
"""

from __future__ import annotations

__all__ = ["ESCALATED_TERMS", "URGENT_EXCEPTIONS", "URGENT_TERMS"]

from typing import Final

_SAFETY_EN: Final = (
    "safety hazard", "safety issue", "safety concern", "safety risk", "fire hazard",
    "choking hazard", "electrical hazard", "health hazard", "hazardous", "unsafe", "fire",
    "caught fire", "catch fire", "on fire", "flames", "smoke", "burned", "burnt",
    "burn mark", "scorched", "melted", "sparks", "sparked", "sparking", "exploded",
    "explode", "exploding", "explosion", "overheat", "overheated", "overheating",
    "electric shock", "electrical shock", "got shocked", "got a shock", "electrocuted",
    "swollen battery", "battery swelling", "battery swelled", "battery leaked", "toxic",
    "poisoning", "poisoned", "allergic reaction", "rash", "choking", "choked", "moldy",
    "mouldy", "product recall", "safety recall", "been recalled", "was recalled",
)  # fmt: skip
_INJURY_EN: Final = (
    "injury", "injuries", "injured", "hurt", "needed stitches", "hospital",
    "emergency room",
)  # fmt: skip
_LEGAL_EN: Final = (
    "lawyer", "attorney", "attorney general", "legal action", "lawsuit", "class action",
    "sue you", "sue your", "sue the", "will sue", "going to sue", "suing", "small claims",
    "take you to court", "see you in court", "cease and desist", "report you",
    "report this seller", "report your store", "file a complaint", "filed a complaint",
    "formal complaint", "bbb", "better business bureau", "ftc", "cpsc",
    "consumer protection", "consumer affairs", "trading standards", "ombudsman",
    "counterfeit",
)  # fmt: skip
_PAYMENT_EN: Final = (
    "chargeback", "charge back", "dispute the charge", "dispute this charge",
    "disputing the charge", "charge dispute", "credit card dispute", "paypal dispute",
    "bank dispute", "open a dispute", "opened a dispute", "file a dispute",
    "filed a dispute",
)  # fmt: skip
_ZH: Final = (
    # complaints to regulators, courts, the press; claims
    "投诉", "12315", "工商", "工商局", "市场监管", "市场监督管理局", "消协", "消费者协会",
    "起诉", "诉讼", "法院", "律师", "报警", "维权", "索赔", "媒体曝光", "曝光你们",
    "拒付", "假货", "假冒",
    # safety and injury
    "安全隐患", "安全问题", "不安全", "起火", "着火", "失火", "冒烟", "烧焦", "烧坏",
    "爆炸", "电池鼓包", "自燃", "漏电", "触电", "被电到", "烫伤", "烧伤", "受伤", "划伤",
    "割伤", "流血", "送医", "去医院", "住院", "中毒", "有毒", "过敏", "甲醛超标",
    "质量问题",
)  # fmt: skip

URGENT_TERMS: Final[tuple[str, ...]] = _SAFETY_EN + _INJURY_EN + _LEGAL_EN + _PAYMENT_EN + _ZH

#: A complaint taken, or about to be taken, outside the seller and the marketplace: a
#: consumer body (the Better Business Bureau, an Attorney General, a regulator), a
#: lawyer or a court, the card issuer (a chargeback). Walmart gives these 1 hour
#: (``config/sla/walmart.toml``, kind ``escalated``). A complaint to the seller
#: ("file a complaint", 投诉) or the press is urgent but not escalated.
ESCALATED_TERMS: Final[tuple[str, ...]] = (
    "bbb", "better business bureau", "attorney general", "attorney generals office",
    "ftc", "federal trade commission", "cpsc", "consumer protection", "consumer affairs",
    "trading standards", "ombudsman", "lawyer", "attorney", "legal action", "lawsuit",
    "class action", "sue you", "sue your", "sue the", "will sue", "going to sue", "suing",
    "small claims", "take you to court", "see you in court", "cease and desist",
    *_PAYMENT_EN,
    "12315", "工商", "工商局", "市场监管", "市场监督管理局", "消协", "消费者协会",
    "起诉", "诉讼", "法院", "律师", "律师函", "报警", "拒付", "银行拒付",
)  # fmt: skip

URGENT_EXCEPTIONS: Final[tuple[str, ...]] = (
    # products and things named after fire and smoke
    "fire tv", "fire stick", "kindle fire", "amazon fire", "fire tablet", "fire hd",
    "fire 7", "fire 8", "fire 10", "fire pit", "fire starter", "fire extinguisher",
    "fire blanket", "fire alarm", "fire truck", "fire engine", "fire red", "fire sale",
    "fire resistant", "fire retardant", "fire safe", "smoke detector", "smoke alarm",
    "smoke machine", "smoke free", "smoke gray", "smoke grey", "smoke tint",
    "burnt orange", "burnt sienna", "rash guard", "hospital bed", "hospital grade",
    "cpsc certified", "cpsc compliant", "cpsc approved",
    # a bank, a business degree, a sole trader; a best-seller, a hairstyle, anger;
    # questions about sensitive skin; a "complaints and suggestions" channel
    "工商银行", "工商管理", "工商户", "爆炸款", "爆炸头", "气炸", "过敏体质", "防过敏",
    "抗过敏", "低过敏", "投诉建议",
)  # fmt: skip
