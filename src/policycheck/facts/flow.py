"""Which way a deal's money flows, and which of a deal's fields are its terms.

An investment (equity, convertible notes, cloud credits) is money the partner puts into the
developer; a developer's commitment to spend on the partner's cloud and a fee for a licence
are not. An investment stays made when its round's terms are renegotiated, so a round that is
an investment outlives a later deal that ``supersedes`` it (``facts.timeline``); only its
commercial terms (``TERMS``) are replaced, by the superseding deal's.
"""

from __future__ import annotations

from typing import Any

from policycheck.model import case as c

# A deal's commercial terms: what a superseding deal replaces in an investment round it supersedes.
TERMS = ("compute", "distribution", "api_exclusive_to_partner_cloud", "ip_rights", "integration_into_partner_products",
         "priority_accelerator_access", "partner_accelerators", "compute_available_in_uk", "developer_multihoming")

_INVESTMENT_FORMS = frozenset({"equity", "convertible", "cloud_credits"})


def amount_flow(d: c.Deal) -> Any:
    """The deal's money flow: the case's own ``amount.flow``, else read from ``forms``; None
    (unstated) or ``unknown`` when neither says."""
    if isinstance(d.amount, c.Money) and d.amount.flow is not None:
        return d.amount.flow
    forms = d.forms
    if not isinstance(forms, list) or not forms:
        return forms if forms == c.UNKNOWN else None
    if _INVESTMENT_FORMS & set(forms):
        return "investment"
    if set(forms) == {"committed_cloud_spend"}:
        return "developer_spend"
    if set(forms) == {"licence_fee"}:
        return "licence_fee"
    return None
