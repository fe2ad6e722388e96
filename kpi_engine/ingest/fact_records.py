"""Record models of the facts after the deal, of marketing and service, and of exchange rates.

Money after the deal (payments, refunds, renewals, churn) names its deal by the CRM's remote id and
its customer by remote id or name; when only the deal is given, the loader takes the customer (and,
for survey answers, the person rated) from the deal. Amounts given back (refunds, credit notes) are
written as positive amounts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from .cells import (
    Currency,
    Day,
    NonNegativeMoney,
    PositiveMoney,
    Rate,
    Ratio,
    Text,
    UTCTime,
    WholeNumber,
    YesNo,
)
from .record_base import BaseRecord, not_before, require_one_of
from .vocabulary import REFUND_KINDS, RENEWAL_OUTCOMES, SURVEY_KINDS, TICKET_KINDS, read_code

__all__ = [
    "ChurnEventRecord",
    "ContentStatRecord",
    "FxRateRecord",
    "MarketingSpendRecord",
    "PaymentRecord",
    "RefundRecord",
    "RenewalRecord",
    "SupportTicketRecord",
    "SurveyResponseRecord",
    "TrainingRecord",
    "WebVisitRecord",
]

Count = Annotated[WholeNumber, Field(ge=0)]
_CUSTOMER = "a customer, by remote id or name (created when not yet known)"
_DEAL = "a deal of the same source"


def _needs_currency(amount: Decimal | None, currency: str | None, field: str = "amount") -> None:
    if amount is not None and currency is None:
        raise ValueError(f"{field} {amount} has no currency; add a currency column or --default currency=CNY")


# --- money after the deal -----------------------------------------------------------------


class PaymentRecord(BaseRecord):
    """Cash received (回款) against a deal or a customer."""

    entity: ClassVar[str] = "payments"
    aliases: ClassVar[tuple[str, ...]] = (
        "payment",
        "collections",
        "collection",
        "receipts",
        "invoice_payments",
        "回款",
        "收款",
        "回款记录",
    )
    description: ClassVar[str] = "Cash received (回款) against a deal, or a customer when no deal is named."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "P-1",
        "deal_remote_id": "D-1",
        "customer": "C-1",
        "amount": "6,250.00",
        "currency": "CNY",
        "received_at": "2026-10-20 11:00",
    }
    references: ClassVar[dict[str, str]] = {
        "deal_remote_id": _DEAL,
        "customer": f"{_CUSTOMER}; the deal's customer when empty",
    }

    remote_id: Text
    deal_remote_id: Text | None = None
    customer: Text | None = None
    amount: PositiveMoney
    currency: Currency
    received_at: UTCTime
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="after")
    def _names_whose(self) -> PaymentRecord:
        require_one_of(self, ("deal_remote_id", "customer"), "a payment")
        return self


class RefundRecord(BaseRecord):
    """Money given back: a refund, a cancellation or a credit note, against a deal or a customer."""

    entity: ClassVar[str] = "refunds"
    aliases: ClassVar[tuple[str, ...]] = (
        "refund",
        "cancellations",
        "cancellation",
        "credit_notes",
        "credit_note",
        "credit_memos",
        "退款",
        "退货",
        "红冲",
    )
    description: ClassVar[str] = "Refunds, cancellations and credit notes (a positive amount given back)."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "R-1",
        "kind": "refund",
        "deal_remote_id": "D-1",
        "customer": "",
        "amount": "1,000.00",
        "currency": "CNY",
        "occurred_at": "2026-11-05 15:00",
        "reason": "Returned one licence",
    }
    references: ClassVar[dict[str, str]] = {
        "deal_remote_id": _DEAL,
        "customer": f"{_CUSTOMER}; the deal's customer when empty",
    }

    remote_id: Text
    kind: Annotated[str, BeforeValidator(lambda v: read_code(v, REFUND_KINDS, "kind of refund"))]
    deal_remote_id: Text | None = None
    customer: Text | None = None
    amount: PositiveMoney
    currency: Currency
    occurred_at: UTCTime
    reason: Text | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="after")
    def _names_whose(self) -> RefundRecord:
        require_one_of(self, ("deal_remote_id", "customer"), "a refund")
        return self


class RenewalRecord(BaseRecord):
    """A contract due for renewal, and whether it was renewed or churned."""

    entity: ClassVar[str] = "renewals"
    aliases: ClassVar[tuple[str, ...]] = ("renewal", "续约", "续费", "续约记录")
    description: ClassVar[str] = "Contracts due for renewal and their outcome (pending, renewed, churned)."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "RN-1",
        "customer": "C-1",
        "contract_deal_remote_id": "D-1",
        "owner_id": "E2001",
        "due_date": "2026-10-31",
        "outcome": "renewed",
        "renewal_deal_remote_id": "D-9",
        "amount": "12,000.00",
        "currency": "CNY",
        "decided_at": "2026-10-20 10:00",
    }
    references: ClassVar[dict[str, str]] = {
        "customer": f"{_CUSTOMER}; the contract deal's customer when empty",
        "contract_deal_remote_id": _DEAL,
        "renewal_deal_remote_id": _DEAL,
        "owner_id": "a person (who is measured on the renewal)",
    }

    remote_id: Text
    customer: Text | None = None
    contract_deal_remote_id: Text | None = None
    owner_id: Text | None = None
    due_date: Day
    outcome: Annotated[
        Literal["pending", "renewed", "churned"],
        BeforeValidator(lambda v: read_code(v, RENEWAL_OUTCOMES, "renewal outcome")),
    ]
    renewal_deal_remote_id: Text | None = None
    amount: NonNegativeMoney | None = None
    currency: Currency | None = None
    decided_at: UTCTime | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="after")
    def _complete(self) -> RenewalRecord:
        require_one_of(self, ("customer", "contract_deal_remote_id"), "a renewal")
        _needs_currency(self.amount, self.currency)
        return self


class ChurnEventRecord(BaseRecord):
    """A customer lost (流失), when, and what revenue went with it."""

    entity: ClassVar[str] = "churn_events"
    aliases: ClassVar[tuple[str, ...]] = ("churn", "churns", "churned_customers", "lost_customers", "流失", "客户流失")
    description: ClassVar[str] = "Customers lost, with the time, the revenue lost and the reason."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "CH-1",
        "customer": "C-2",
        "owner_id": "E2001",
        "deal_remote_id": "D-2",
        "churned_at": "2026-10-25 09:00",
        "lost_amount": "3,000.00",
        "currency": "CNY",
        "reason": "Moved to a competitor",
    }
    references: ClassVar[dict[str, str]] = {
        "customer": f"{_CUSTOMER}; the deal's customer when empty",
        "deal_remote_id": _DEAL,
        "owner_id": "a person",
    }

    remote_id: Text
    customer: Text | None = None
    owner_id: Text | None = None
    deal_remote_id: Text | None = None
    churned_at: UTCTime
    lost_amount: NonNegativeMoney | None = None
    currency: Currency | None = None
    reason: Text | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="after")
    def _complete(self) -> ChurnEventRecord:
        require_one_of(self, ("customer", "deal_remote_id"), "a churn event")
        _needs_currency(self.lost_amount, self.currency, "lost_amount")
        return self


class SurveyResponseRecord(BaseRecord):
    """An answer to a survey about a person: NPS (0-10), satisfaction or complaint satisfaction (1-5)."""

    entity: ClassVar[str] = "survey_responses"
    aliases: ClassVar[tuple[str, ...]] = (
        "surveys",
        "survey",
        "responses",
        "nps",
        "csat",
        "satisfaction",
        "满意度",
        "问卷",
        "调查",
    )
    description: ClassVar[str] = "Survey answers about a person: NPS 0-10, satisfaction 1-5."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "S-1",
        "kind": "nps",
        "customer": "C-1",
        "person_id": "E2001",
        "deal_remote_id": "",
        "score": "9",
        "responded_at": "2026-10-28 12:00",
    }
    references: ClassVar[dict[str, str]] = {
        "person_id": "a person (whom the answer rates); the deal's owner when empty",
        "customer": f"{_CUSTOMER}; the deal's customer when empty",
        "deal_remote_id": _DEAL,
    }

    remote_id: Text
    kind: Annotated[
        Literal["nps", "satisfaction", "complaint_satisfaction"],
        BeforeValidator(lambda v: read_code(v, SURVEY_KINDS, "kind of survey")),
    ]
    customer: Text | None = None
    person_id: Text | None = None
    deal_remote_id: Text | None = None
    score: Ratio
    responded_at: UTCTime
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="after")
    def _score_on_its_scale(self) -> SurveyResponseRecord:
        low, high = (0, 10) if self.kind == "nps" else (1, 5)
        if not low <= self.score <= high:
            raise ValueError(f"a {self.kind} score is between {low} and {high}, not {self.score}")
        if self.kind == "nps" and self.score != self.score.to_integral_value():
            raise ValueError(f"an NPS score is a whole number from 0 to 10, not {self.score}")
        require_one_of(self, ("person_id", "deal_remote_id"), "a survey answer")
        return self


class SupportTicketRecord(BaseRecord):
    """A support ticket (issue, complaint, question) with its response and resolution times."""

    entity: ClassVar[str] = "support_tickets"
    aliases: ClassVar[tuple[str, ...]] = ("tickets", "ticket", "cases", "case", "support", "工单", "客诉", "服务单")
    description: ClassVar[str] = "Support tickets: kind, priority, opened, first response and resolution times."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "T-1",
        "customer": "C-1",
        "owner_id": "E2001",
        "kind": "issue",
        "priority": "high",
        "opened_at": "2026-10-06 09:00",
        "first_response_at": "2026-10-06 09:40",
        "resolved_at": "2026-10-07 09:00",
    }
    references: ClassVar[dict[str, str]] = {"customer": _CUSTOMER, "owner_id": "a person"}

    remote_id: Text
    customer: Text | None = None
    owner_id: Text | None = None
    kind: Annotated[str, BeforeValidator(lambda v: read_code(v, TICKET_KINDS, "kind of ticket"))]
    priority: Text | None = None
    opened_at: UTCTime
    first_response_at: UTCTime | None = None
    resolved_at: UTCTime | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @field_validator("first_response_at", "resolved_at")
    @classmethod
    def _after_opened(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return not_before(value, info, "opened_at")


class TrainingRecord(BaseRecord):
    """A training given to a customer."""

    entity: ClassVar[str] = "trainings"
    aliases: ClassVar[tuple[str, ...]] = ("training", "onboarding", "培训", "客户培训")
    description: ClassVar[str] = "Trainings given to customers, with attendees and topic."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "TR-1",
        "customer": "C-1",
        "owner_id": "E2001",
        "occurred_at": "2026-10-12 14:00",
        "attendees": "12",
        "topic": "Admin onboarding",
    }
    references: ClassVar[dict[str, str]] = {"customer": _CUSTOMER, "owner_id": "a person"}

    remote_id: Text
    customer: Text
    owner_id: Text | None = None
    occurred_at: UTCTime
    attendees: Count | None = None
    topic: Text | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False


# --- marketing ----------------------------------------------------------------------------


class MarketingSpendRecord(BaseRecord):
    """Promotion spend of a day on a channel or campaign (Salesforce ``Campaign`` costs)."""

    entity: ClassVar[str] = "marketing_spend"
    aliases: ClassVar[tuple[str, ...]] = (
        "spend",
        "marketing_costs",
        "campaign_costs",
        "campaigns",
        "ad_spend",
        "市场费用",
        "推广费用",
        "营销费用",
        "投放",
    )
    description: ClassVar[str] = "Promotion spend per day and channel or campaign, with its marketing owner."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "MS-1",
        "day": "2026-10-01",
        "channel": "search",
        "campaign": "Q4 launch",
        "owner_id": "E1003",
        "amount": "3,000.00",
        "currency": "CNY",
    }
    references: ClassVar[dict[str, str]] = {"owner_id": "a person (marketing owner)"}

    remote_id: Text
    day: Day
    channel: Text
    campaign: Text | None = None
    owner_id: Text | None = None
    amount: NonNegativeMoney
    currency: Currency
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False


class WebVisitRecord(BaseRecord):
    """A web session of a visitor: channel, campaign, whether a form was submitted."""

    entity: ClassVar[str] = "web_visits"
    aliases: ClassVar[tuple[str, ...]] = (
        "web_visit",
        "sessions",
        "web_sessions",
        "web_traffic",
        "pageviews",
        "网站访问",
        "访问记录",
        "流量",
    )
    description: ClassVar[str] = "Web sessions: visitor, channel, campaign, form submitted, suspect traffic."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "W-1",
        "visitor_id": "v-8812",
        "occurred_at": "2026-10-03 20:15",
        "channel": "search",
        "campaign": "Q4 launch",
        "owner_id": "E1003",
        "landing_page": "/pricing",
        "form_submitted": "yes",
        "is_suspect": "no",
    }
    references: ClassVar[dict[str, str]] = {"owner_id": "a person (marketing owner of the channel)"}

    remote_id: Text
    visitor_id: Text
    occurred_at: UTCTime
    channel: Text | None = None
    campaign: Text | None = None
    owner_id: Text | None = None
    landing_page: Text | None = None
    form_submitted: YesNo = False
    is_suspect: YesNo = False
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False


class ContentStatRecord(BaseRecord):
    """A day's numbers of one piece of content (article, video, whitepaper, social post)."""

    entity: ClassVar[str] = "content_stats"
    aliases: ClassVar[tuple[str, ...]] = ("content", "contents", "posts", "content_metrics", "内容", "内容数据")
    description: ClassVar[str] = "A day's impressions, clicks, downloads and engagement of each piece of content."
    example: ClassVar[dict[str, str]] = {
        "remote_id": "CS-1",
        "content_id": "whitepaper-7",
        "title": "Pricing guide",
        "kind": "whitepaper",
        "channel": "content",
        "campaign": "Q4 launch",
        "owner_id": "E1003",
        "day": "2026-10-03",
        "impressions": "1200",
        "clicks": "80",
        "downloads": "15",
        "likes": "0",
        "comments": "0",
        "shares": "0",
        "followers": "",
    }
    references: ClassVar[dict[str, str]] = {"owner_id": "a person (marketing owner)"}

    remote_id: Text
    content_id: Text
    title: Text | None = None
    kind: Text | None = None
    channel: Text | None = None
    campaign: Text | None = None
    owner_id: Text | None = None
    day: Day
    impressions: Count = 0
    clicks: Count = 0
    downloads: Count = 0
    likes: Count = 0
    comments: Count = 0
    shares: Count = 0
    followers: Count | None = None
    modified_at: UTCTime | None = None
    is_deleted: YesNo = False

    @model_validator(mode="before")
    @classmethod
    def _empty_counts_are_zero(cls, data: Any) -> Any:
        if isinstance(data, dict):
            counts = ("impressions", "clicks", "downloads", "likes", "comments", "shares")
            return {
                k: (0 if k in counts and (v is None or (isinstance(v, str) and not v.strip())) else v)
                for k, v in data.items()
            }
        return data


# --- exchange rates -----------------------------------------------------------------------


class FxRateRecord(BaseRecord):
    """What one unit of ``from_currency`` is worth in ``to_currency`` on a day (1 USD = 7.1 CNY)."""

    entity: ClassVar[str] = "fx_rates"
    key_fields: ClassVar[tuple[str, ...]] = ("from_currency", "to_currency", "day")
    aliases: ClassVar[tuple[str, ...]] = (
        "fx",
        "fx_rate",
        "rates",
        "exchange_rates",
        "exchange_rate",
        "currency_rates",
        "汇率",
        "外汇牌价",
    )
    description: ClassVar[str] = "Exchange rates: one unit of from_currency is worth rate units of to_currency."
    example: ClassVar[dict[str, str]] = {
        "day": "2026-10-15",
        "from_currency": "USD",
        "to_currency": "CNY",
        "rate": "7.1234",
    }

    day: Day
    from_currency: Currency
    to_currency: Currency
    rate: Rate

    @model_validator(mode="after")
    def _two_currencies(self) -> FxRateRecord:
        if self.from_currency == self.to_currency:
            raise ValueError(f"a rate converts one currency into another, not {self.from_currency} into itself")
        return self
