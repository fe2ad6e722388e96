"""The words exports use for the schema's codes: kinds of refunds, renewal outcomes, survey kinds, deal stages.

Each table maps a normalised word (lower case, spaces for ``_`` and ``-``) to the code stored; a word
that is in no table is refused with the codes allowed, never stored as something else. Deal stages are
read in the same spirit: a stage is won, lost or open when the mapping's ``stage_map`` says so, when it
carries a won or lost keyword, or when it is one of the usual open stages of the common CRMs; any other
stage is refused naming the ``stage_map`` entry to add.
"""

from __future__ import annotations

import re
from typing import Any

from .cells import is_blank, normal_text

__all__ = [
    "OPEN_STAGES",
    "REFUND_KINDS",
    "RENEWAL_OUTCOMES",
    "SURVEY_KINDS",
    "TICKET_KINDS",
    "read_code",
    "stage_status",
]


def _table(codes: dict[str, list[str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, words in codes.items():
        for word in (code, *words):
            table[normal_text(word)] = code
    return table


REFUND_KINDS = _table(
    {
        "refund": ["refunds", "money back", "return", "退款", "退货", "退费"],
        "cancellation": ["cancel", "cancelled", "canceled", "cancellations", "void", "取消", "撤单", "作废", "解约"],
        "credit_note": ["credit note", "credit memo", "credit", "creditnote", "红冲", "红字发票", "贷项通知单", "折让"],
    }
)
RENEWAL_OUTCOMES = _table(
    {
        "pending": ["open", "due", "undecided", "in progress", "待续约", "未决", "跟进中"],
        "renewed": ["renew", "won", "closed won", "yes", "已续约", "续约", "续约成功"],
        "churned": ["churn", "lost", "closed lost", "not renewed", "cancelled", "no", "流失", "未续约", "续约失败"],
    }
)
SURVEY_KINDS = _table(
    {
        "nps": ["net promoter score", "net promoter", "净推荐值", "推荐度"],
        "satisfaction": ["csat", "customer satisfaction", "满意度", "客户满意度"],
        "complaint_satisfaction": ["complaint", "complaint handling", "投诉满意度", "投诉处理满意度"],
    }
)
TICKET_KINDS = _table(
    {
        "issue": ["incident", "problem", "bug", "fault", "故障", "问题"],
        "complaint": ["complaints", "投诉"],
        "question": ["inquiry", "enquiry", "request", "how to", "咨询", "询问"],
    }
)


def read_code(value: Any, table: dict[str, str], what: str) -> Any:
    """The code for ``value`` in ``table``; a sentence naming the codes allowed when it has none."""
    if is_blank(value):
        return None
    key = normal_text(str(value))
    if key in table:
        return table[key]
    allowed = ", ".join(dict.fromkeys(table.values()))
    raise ValueError(f"{value!r} is not a {what} (use one of {allowed})")


_WON = re.compile(r"\bwon\b|成交|赢单|签约", re.IGNORECASE)
_LOST = re.compile(r"\blost\b|输单|丢单|失败", re.IGNORECASE)

OPEN_STAGES = frozenset(
    normal_text(stage)
    for stage in (
        # Salesforce's default sales process
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
        # HubSpot's default pipeline (ids and labels)
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "Appointment Scheduled",
        "Qualified To Buy",
        "Presentation Scheduled",
        "Decision Maker Bought-In",
        "Contract Sent",
        # Dynamics 365 and the usual words
        "Qualify",
        "Develop",
        "Propose",
        "Close",
        "Open",
        "New",
        "Lead",
        "Discovery",
        "Demo",
        "Proposal",
        "Quote",
        "Negotiation",
        "In Progress",
        "Pending",
        "Active",
        # Fxiaoke / Chinese CRMs
        "验证客户",
        "需求确定",
        "方案/报价",
        "谈判审核",
        "初步接洽",
        "需求分析",
        "方案报价",
        "商务谈判",
        "谈判中",
        "进行中",
        "跟进中",
        "初步沟通",
    )
)
"""Stages of the common CRMs' default pipelines that mean a deal is still open."""


def stage_status(stage: str, stage_map: dict[str, str] | None, *, strict: bool) -> str:
    """open, won or lost for a raw CRM stage: the mapping's ``stage_map`` first, then the keywords.

    ``strict`` (file imports): a stage that is neither mapped, nor a won or lost keyword, nor a usual open
    stage is refused, naming the ``stage_map`` entry to add; otherwise it is open (what connectors do,
    their mappings carry the CRM's stages).
    """
    wanted = normal_text(stage)
    for raw, status in (stage_map or {}).items():
        if normal_text(raw) == wanted:
            return status
    if _LOST.search(stage):
        return "lost"
    if _WON.search(stage):
        return "won"
    if not strict or wanted in OPEN_STAGES:
        return "open"
    raise ValueError(
        f"the stage {stage!r} is not mapped to open, won or lost; add it to the mapping's stage_map "
        f"(stage_map: {{{stage}: won}}, or lost, or open)"
    )
