"""The currency codes an amount may carry: ISO 4217's, checked at the boundary so both stores hold the same.

Source: ISO 4217 "List One: current currency & funds", published by SIX Group on behalf of the ISO 4217
Maintenance Agency (https://www.six-group.com/en/products-services/financial-information/data-standards.html,
the list as XML: https://www.six-group.com/dam/download/financial-information/data-center/iso-currrency/lists/list-one.xml).
The codes below were taken from Debian's iso-codes 4.15.0 (``/usr/share/iso-codes/json/iso_4217.json``, its
copy of that list) with the codes ISO added since: ZWG (Zimbabwe Gold, 2024) and XCG (Caribbean guilder, 2025).

Two decisions beyond the list:

- codes withdrawn since 2023 whose facts are still being imported (HRK, the Croatian kuna before the euro;
  ANG, SLL, CUC, ZWL) stay accepted: a deal closed in kuna in 2022 is a true record of that deal;
- XTS (reserved for testing) and XXX (\"no currency is involved\") are refused: an amount always has one.

A code ISO adds later is one line here (and a test of ``tests/ingest/test_boundary_validation.py``).
"""

from __future__ import annotations

__all__ = ["ISO_4217_CODES"]

ISO_4217_CODES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN
    BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
    SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU
    XUA YER ZAR ZMW ZWG ZWL
    """.split()
)
"""The three-letter codes of ISO 4217 an amount may be in."""
