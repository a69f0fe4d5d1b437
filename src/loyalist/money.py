"""The currency a store's amounts are in, as outputs show it: ISO 4217 codes, the check of a
code the user gives (``--currency``), and the one way an amount or a heading names it.

An amount is shown with the code after it ("3,490,112 GBP") and a column or an axis of
amounts with the code in its heading ("revenue (GBP)"); with an unknown currency (None) both
are left as they were: no symbol is ever invented. The store keeps the code
(:func:`loyalist.store.currency` reads it); ingest detects it
(:mod:`loyalist.ingest.currency`). An amount the user types (``--budget 5k``) is read by
:func:`parse_amount`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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


def _amount_digits(x: float) -> int:
    """Decimals :func:`amount_text` shows: none from 100 up, else three significant digits."""
    return 0 if abs(x) >= 100 or x == 0 else max(0, 2 - math.floor(math.log10(abs(x))))


def amount_text(x: float, *, up: bool = False) -> str:
    """A money amount as a merchant reads it: thousands separators, whole units from 100 up,
    else three significant digits, never scientific notation (1,400,000; 9,498,765; 16.7;
    0.021; 0). ``up``: rounded up at the digits shown (a minimum to reach: "at least 4,965"
    must be enough)."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    digits = _amount_digits(x)
    if up:
        x = math.ceil(round(x * 10 ** digits, 9)) / 10 ** digits
    text = f"{x + 0.0:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount(x: float, code: str | None, *, up: bool = False) -> str:
    """:func:`amount_text` (``up`` as there) with the currency after it: "16.7 GBP",
    "1,400,000 GBP"."""
    return with_code(amount_text(x, up=up), code)


def whole(x: float, code: str | None) -> str:
    """An amount in whole units with thousands separators and its currency: "3,490,112 GBP"."""
    return with_code(f"{x:,.0f}", code)


def label(heading: str, code: str | None) -> str:
    """A heading of amounts with its currency: "revenue (GBP)" (unchanged for an unknown
    currency)."""
    return f"{heading} ({code})" if code else heading


@dataclass(frozen=True)
class Amount:
    """An amount of money as the user typed it (:func:`parse_amount`): its value, and the
    currency it names (an ISO 4217 code, or a sign naming one currency; None: none named)."""

    value: float
    code: str | None = None


#: a k or m after an amount: thousands, millions (5k, 1.5m)
SCALES = {"K": 1e3, "M": 1e6}
#: how an amount may be written, for the messages
AMOUNT_EXAMPLES = "e.g. 5000, 5,000, 5k, 1.5m or 5000 EUR"


def parse_amount(text: str, option: str) -> Amount:
    """An amount of money as a merchant writes it: a plain number, with thousands separators
    or a decimal comma as a sales file's cells have them (5,000; 5 000; 1.234,56: read by the
    ingest's parser, :func:`loyalist.ingest.parse.number_value`), a currency sign or ISO code
    before or after it (€5000, 5000 EUR), and a k or m suffix (5k = 5,000; 1.5m =
    1,500,000). Anything else, and dot groups that read either way (5.000: five, or five
    thousand), are refused in one line naming ``option``, the value and what to write."""
    rest, code = _currency_named(text.strip())
    scale = 1.0
    suffixed = re.fullmatch(r"(.*[0-9])\s*([kKmM])", rest)
    if suffixed:
        rest, scale = suffixed.group(1), SCALES[suffixed.group(2).upper()]
    if re.fullmatch(r"[0-9]{1,3}([.][0-9]{3})+", rest.strip()):
        whole, dots = rest.strip().replace(".", ""), rest.strip()
        raise ParameterError(f"{option} {text!r}: {dots} reads as {float(dots):g} or as "
                             f"{int(whole):,}; write it without the dot ({whole}) or with a "
                             f"decimal comma ({dots.replace('.', ',')})")
    from loyalist.ingest.parse import number_value

    value = number_value(rest) if rest else None
    if value is None or not math.isfinite(value):
        raise ParameterError(f"{option} {text!r} is not an amount of money; write a number, "
                             f"{AMOUNT_EXAMPLES}")
    return Amount(value * scale, code)


def _currency_named(text: str) -> tuple[str, str | None]:
    """``text`` without the ISO 4217 code or currency sign written before or after its
    number, and the currency that names (None for none, and for a sign written for several
    currencies, such as $: :data:`loyalist.ingest.currency.LOOSE`)."""
    from loyalist.ingest.currency import LOOSE, SIGNS

    coded = re.fullmatch(r"([A-Za-z]{3})\s*(.+)|(.+?)\s*([A-Za-z]{3})", text)
    if coded and (coded.group(1) or coded.group(4)).upper() in ISO_4217:
        return ((coded.group(2) or coded.group(3)).strip(),
                (coded.group(1) or coded.group(4)).upper())
    upper = text.upper()
    for sign in sorted(SIGNS, key=len, reverse=True):
        if upper.startswith(sign) or upper.endswith(sign):
            rest = upper.removeprefix(sign) if upper.startswith(sign) else upper.removesuffix(sign)
            return rest.strip(), None if sign in LOOSE else SIGNS[sign]
    return text, None


def check_amount_code(code: str | None, store_code: str | None, option: str,
                      value: float) -> None:
    """Refuse an amount typed in another currency (``code``) than the store's: amounts are
    never converted. Nothing to check when either is unknown."""
    if code and store_code and code != store_code:
        raise ParameterError(f"{option} is in {code}, but the store's amounts are in "
                             f"{store_code}, and amounts are never converted; give it in "
                             f"{store_code}, e.g. {option} '{amount_text(value)} {store_code}'")
