"""The currency a store's amounts are in, as outputs show it: ISO 4217 codes, the check of a
code the user gives (``--currency``), and the one way an amount or a heading names it.

An amount is shown with the code after it ("3,490,112 GBP") and a column or an axis of
amounts with the code in its heading ("revenue (GBP)"); with an unknown currency (None) both
are left as they were: no symbol is ever invented. The store keeps the code
(:func:`loyalist.store.currency` reads it); ingest detects it
(:mod:`loyalist.ingest.currency`).
"""

from __future__ import annotations

from loyalist.errors import ParameterError

#: active ISO 4217 currency codes (the funds, precious metals and test codes left out)
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
""".split())


def is_code(text: object) -> bool:
    """Whether ``text`` is an ISO 4217 code as written (upper case, no spaces)."""
    return isinstance(text, str) and text in ISO_4217


def check_code(text: str | None, option: str = "--currency") -> str | None:
    """``text`` as an ISO 4217 code (letter case and spaces ignored), None for None or
    empty; anything else is refused in one line naming the option."""
    if text is None or not str(text).strip():
        return None
    code = str(text).strip().upper()
    if code not in ISO_4217:
        raise ParameterError(f"{option} {text!r} is not an ISO 4217 currency code; give its "
                             "three letters, e.g. GBP, EUR, USD, JPY")
    return code


def with_code(amount: str, code: str | None) -> str:
    """An amount as text with its currency after it: "3,490,112 GBP" (unchanged for an
    unknown currency)."""
    return f"{amount} {code}" if code else amount


def whole(x: float, code: str | None) -> str:
    """An amount in whole units with thousands separators and its currency: "3,490,112 GBP"."""
    return with_code(f"{x:,.0f}", code)


def label(heading: str, code: str | None) -> str:
    """A heading of amounts with its currency: "revenue (GBP)" (unchanged for an unknown
    currency)."""
    return f"{heading} ({code})" if code else heading
