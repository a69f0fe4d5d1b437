"""The merchant's inputs to a plan: the promotion catalog, the planning parameters, the
constraints and the response priors, read from TOML / YAML / JSON / CSV and checked with
messages that name the file, the field and the fix.

Priors file (``--priors``; :func:`load_priors`): rows ``kind, segment, incremental_prob,
use_rate`` replacing those of the documented defaults
(:data:`loyalist.response.priors.PRIOR_TABLE`, printed by ``loyalist priors``) for the
promotions without a measured response; rows not given keep their default.

Catalog (DESIGN.md): ``name``, ``kind`` (one of :data:`loyalist.schema.PROMOTION_KINDS`),
``value``, ``contact_cost``, optional ``min_spend`` / ``max_spend`` (the offer's order
thresholds, e.g. "20 off orders over 100"), ``eligible_segments`` and ``category``
all), and ``points_rate`` on a points multiplier: the base loyalty points' value as a share
of spend (0.01 for 1 point per unit worth 0.01; default
:data:`loyalist.response.value.POINTS_RATE`, 3%); one loyalty programme, so every points
multiplier that gives it gives the same (:func:`catalog_points_rate`). TOML and YAML hold a
list under ``promotion`` / ``promotions``; CSV one row each.

Constraints file (TOML / YAML / JSON), every key optional::

    max_segment_share = 0.4          # no segment gets more than 40% of the budget
    cooldown_days = 14               # nobody contacted in the last 14 days
    require_consent = true           # marketing_consent must be true, email_opt_out false
    [min_spend]                      # per promotion: spend at least ...
    winter_clearance_30 = 500
    [max_spend]                      # per promotion: spend at most ...
    double_points = 800
    [min_age]                        # age-restricted categories: younger or unknown age
    tobacco = 18                     #   customers never get a promotion on them
    [inventory_caps]                 # per category: at most this many redemptions
    outerwear = 300
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import schema as s
from loyalist.errors import DataError, InfeasibleError, ParameterError
from loyalist.money import amount_text
from loyalist.names import GOAL_ALIASES as NAMED_GOAL_ALIASES
from loyalist.names import GOALS as NAMED_GOALS

__all__ = ["CLEAR_GOALS", "COUNT_GOALS", "GENERIC_CATALOG", "GENERIC_ORDER_RANGE", "GOALS",
           "GOAL_UNITS", "MONTH_DAYS", "OVERSTOCK_BONUS", "Constraints", "PlanParams",
           "amount_name", "amount_text", "catalog_points_rate", "gap_text", "generic_catalog",
           "load_catalog", "load_constraints", "load_priors", "normalise_catalog",
           "normalise_priors", "roi_text", "split_folded", "split_list"]

#: goals a plan can pursue (``--goal``; spelled in :mod:`loyalist.names`)
GOALS = NAMED_GOALS
#: extra value of a unit of revenue in an overstocked category (assumption): the value of
#: clearing it, avoided markdowns and holding cost
OVERSTOCK_BONUS = 0.25
#: what one unit of each goal's value is, as shown next to the plan's expected value
GOAL_UNITS = {"retention": "customers kept", "revenue": "of incremental revenue",
              "profit": "of incremental profit", "visit_frequency": "extra orders",
              "average_order_value": "of revenue above the usual baskets",
              "clear_inventory": "of revenue in the categories to clear, with "
                                 f"{OVERSTOCK_BONUS:.0%} added as the value of clearing them",
              "reactivation": "lapsed customers won back"}
#: goals counted in customers or orders (a cost per unit is meaningful for these)
COUNT_GOALS = ("retention", "visit_frequency", "reactivation")
#: the goals that use the categories to clear (``--clear``)
CLEAR_GOALS = ("clear_inventory", "profit")
#: other spellings accepted for ``--goal``
GOAL_ALIASES = NAMED_GOAL_ALIASES

#: used when neither ``--catalog`` nor the store holds a catalog (marked as an assumption)
GENERIC_CATALOG = pd.DataFrame([
    {"name": "pct10_off", "kind": "percent_discount", "value": 10.0, "contact_cost": 0.05},
    {"name": "voucher_5", "kind": "fixed_voucher", "value": 5.0, "contact_cost": 0.05},
    {"name": "free_shipping", "kind": "free_shipping", "value": 5.0, "contact_cost": 0.05},
    {"name": "double_points", "kind": "points_multiplier", "value": 2.0, "contact_cost": 0.05},
])


#: median order values for which the generic catalog's fixed money amounts (shipping fee,
#: contact cost) were chosen; a store whose typical order is outside this range (a coffee bar,
#: a wholesaler, another currency) gets them scaled to the nearer end
GENERIC_ORDER_RANGE = (10.0, 100.0)
#: the generic voucher is worth this share of the store's median order value
GENERIC_VOUCHER_SHARE = 0.15


def roi_text(roi: float | None) -> str:
    """A plan's ROI (net incremental profit / spend, a ratio in plan.json and the CSVs) as
    every human-readable output shows it: a whole percent, 1.398 -> "140%"; "n/a" without
    spend."""
    if roi is None or not math.isfinite(float(roi)):
        return "n/a"
    return f"{100 * float(roi):,.0f}%"


def gap_text(gap: float | None) -> str:
    """The optimizer's proven optimality gap (a ratio in plan.json) as every human-readable
    output shows it: a percent with two decimals, 0.0005 -> "0.05%", never a negative zero;
    "n/a" without one. The CLI, the report and the dashboard printed 0.050%, 0.0% and 0.05%
    for the same plan (exploratory report 6, finding 16)."""
    if gap is None or not math.isfinite(float(gap)):
        return "n/a"
    return f"{max(float(gap), 0.0) * 100 + 0.0:.2f}%"


def amount_name(x: float) -> str:
    """An amount in a promotion's name: digits only, no separators (a name may sit in a
    comma-separated list) and no exponent: ``voucher_5``, ``voucher_0.63``,
    ``voucher_1400000``, not ``voucher_1.4e+06``."""
    return np.format_float_positional(float(x), trim="-")


def _nice(x: float) -> float:
    """Two significant digits: 0.0432 -> 0.043, 16.7 -> 17, 1234 -> 1200."""
    if x <= 0 or not math.isfinite(x):
        return x
    return round(x, 1 - math.floor(math.log10(x)))


def generic_catalog(median_order: float | None) -> tuple[pd.DataFrame, str]:
    """The generic catalog fitted to the store's median order value (when known): a voucher
    worth :data:`GENERIC_VOUCHER_SHARE` of it, and the shipping fee and contact cost scaled when
    it is outside :data:`GENERIC_ORDER_RANGE`; and a sentence saying what was used."""
    lo, hi = GENERIC_ORDER_RANGE
    cat = GENERIC_CATALOG.copy()
    known = bool(median_order) and math.isfinite(median_order) and median_order > 0  # type: ignore[arg-type]
    if known:
        m = float(median_order)  # type: ignore[arg-type]
        factor = m / lo if m < lo else (m / hi if m > hi else 1.0)
        voucher = cat["kind"] == "fixed_voucher"
        cat.loc[voucher, "value"] = _nice(GENERIC_VOUCHER_SHARE * m)
        cat.loc[voucher, "name"] = f"voucher_{amount_name(_nice(GENERIC_VOUCHER_SHARE * m))}"
        ship = cat["kind"] == "free_shipping"
        cat.loc[ship, "value"] = [_nice(v * factor) for v in cat.loc[ship, "value"]]
        cat["contact_cost"] = [_nice(v * factor) for v in cat["contact_cost"]]
    v = cat.set_index("kind")
    what = ("no promotion catalog given or loaded: a generic one is used ("
            + ", ".join(cat["name"]) + f"; voucher {amount_text(v.loc['fixed_voucher', 'value'])}"
            f", shipping fee {amount_text(v.loc['free_shipping', 'value'])}, contact cost "
            f"{amount_text(v.loc['fixed_voucher', 'contact_cost'])} per customer")
    if known:
        what += (f"; the voucher is {GENERIC_VOUCHER_SHARE:.0%} of this store's median order "
                 f"value {amount_text(float(median_order))}")  # type: ignore[arg-type]
        if not lo <= float(median_order) <= hi:  # type: ignore[arg-type]
            what += (f", and the fee and contact cost are scaled to it from amounts meant for "
                     f"orders of {lo:g}-{hi:g}")
    return cat, what + "); pass --catalog FILE"


def split_list(cell: object) -> list[str]:
    """A ``;``- or ``,``-separated cell (or a list) as a clean list; empty/None -> []."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    if isinstance(cell, list | tuple):
        return [str(c).strip() for c in cell if str(c).strip()]
    return [c.strip() for c in str(cell).replace(",", ";").split(";") if c.strip()]


def split_folded(cell: object) -> set[str]:
    """:func:`split_list`'s items without letter case (``casefold``), for matching a
    promotion's categories or segments to names typed elsewhere."""
    return {c.casefold() for c in split_list(cell)}


#: what a catalog or a constraints file may be, for the messages refusing another path
CATALOG_FILE = ("a catalog in TOML, YAML, JSON or CSV (a table in another format loads into "
                "the store with `loyalist ingest FILE --table promotion_catalog`)")
CONSTRAINTS_FILE = "constraints in TOML, YAML or JSON"


def _read_text(path: Path, what: str) -> str:
    """The text of a catalog or constraints file, decoded as `ingest` decodes a CSV (a
    Windows-1252 export too: :func:`loyalist.ingest.text.decoded_text`). A folder, a missing
    path and a binary file (a Parquet or Excel file given by mistake) are refused naming
    ``what`` to pass (exploratory report 7, I5: a Parquet file gave a UnicodeDecodeError
    traceback, a folder was "no such file", and a Latin-1 CSV was refused)."""
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a file; pass {what}")
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass {what}")
    from loyalist.ingest.read import sniff_kind
    from loyalist.ingest.text import decoded_text

    kind = sniff_kind(path)  # by the magic bytes, as ingest tells a table's format
    text = decoded_text(path) if kind in ("csv", "json") else None
    if text is None or "\0" in text[:8000]:
        shown = {"parquet": "a Parquet", "arrow": "an Arrow/Feather", "excel": "an Excel"}
        raise DataError(f"{path}: {shown.get(kind, 'a binary')} file, not text; pass {what}")
    return text


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once: a key given twice (``"value": 10`` and
    ``"value": 90`` in one promotion) kept the last without a word, where TOML refuses it."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} is given twice in one object; keep one")
        out[k] = v
    return out


def _unique_keys_loader() -> Any:
    """YAML's safe loader, refusing a mapping that gives a key twice (:func:`_unique_pairs`)."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:  # its own keys: a merged-in '<<: *base' may be overridden
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
            if key in seen:
                raise ValueError(f"key {key!r} is given twice in one mapping (line "
                                 f"{key_node.start_mark.line + 1}); keep one")
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return UniqueKeys


def _read_mapping(path: Path, what: str, also: str = " (or .csv for a catalog)") -> Any:
    text = _read_text(path, what)
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            import yaml

            return yaml.load(text, Loader=_unique_keys_loader())  # a SafeLoader
        if suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_pairs)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as e:
        raise DataError(f"{path}: cannot parse it as {suffix[1:].upper()}: {e}") from None
    except Exception as e:  # yaml.YAMLError without importing yaml at module level
        raise DataError(f"{path}: cannot parse it as YAML: {e}") from None
    raise DataError(f"{path}: unknown format {suffix!r}; use .toml, .yaml, .json{also}")


def _csv_delimiter(text: str) -> str:
    """The cell separator of a small CSV file: of ``,`` ``;`` tab and ``|``, the one its
    header line holds most (a comma when it holds none), as a spreadsheet in a locale whose
    decimal mark is a comma saves ``name;kind;value``."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {c: header.count(c) for c in (",", ";", "\t", "|")}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def _check_row_lengths(text: str, sep: str, path: Path, fix: str | None = None) -> None:
    """Refuse a CSV row with more cells than the header: pandas took the extra cell as the
    row's index and shifted the others ("promotion 'percent_discount' has contact_cost
    'extra'"), as an unquoted ``Champions,Loyal`` in ``eligible_segments`` does. The line is
    counted in ``text`` (blank lines too); ``fix``: what to do, else quote the cell."""
    import csv
    import io

    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text), delimiter=sep), 1) if r]
    if not rows:
        return
    width = len(rows[0][1])
    for n, r in rows[1:]:
        if len(r) > width:
            raise DataError(f"{path}: line {n} has {len(r)} cells, the header {width}; "
                            + (fix or f"put a cell that holds {sep!r} in double quotes (e.g. "
                                      f'"Champions{sep}Loyal") or remove the extra cells'))


def load_catalog(path: str | Path) -> pd.DataFrame:
    """Read and check a promotion catalog file (see the module docstring)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        import io

        text = _read_text(p, CATALOG_FILE)
        sep = _csv_delimiter(text)
        _check_row_lengths(text, sep, p)
        try:  # a spreadsheet saved with ';' between cells writes its decimals with ','
            frame = pd.read_csv(io.StringIO(text), sep=sep, decimal="," if sep == ";" else ".")
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
            raise DataError(f"{p}: cannot read the catalog as CSV: {e}") from None
        frame = frame.dropna(how="all")  # a spreadsheet's empty rows saved as ',,,'
    else:
        doc = _read_mapping(p, CATALOG_FILE)
        rows = doc
        if isinstance(doc, Mapping):
            rows = doc.get("promotion", doc.get("promotions"))
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise DataError(f"{p}: a catalog holds a list of promotions under 'promotion' "
                            "(TOML: [[promotion]] tables) or 'promotions' (YAML/JSON)")
        frame = pd.DataFrame(rows)
    return normalise_catalog(frame, source=str(p))


#: other names for the promotion kinds, as merchants' tools spell them
KIND_ALIASES = {
    **dict.fromkeys(("percent", "percentage", "pct", "percent_off", "pct_off", "discount",
                     "percentage_discount", "percent_discount", "%_off", "%"),
                    "percent_discount"),
    **dict.fromkeys(("voucher", "coupon", "fixed", "amount_off", "fixed_amount",
                     "fixed_discount", "cash_voucher", "money_off", "fixed_voucher"),
                    "fixed_voucher"),
    **dict.fromkeys(("bogo", "buy_one_get_one", "buy_1_get_1", "b1g1", "bxgy", "2_for_1",
                     "two_for_one", "buy_one_get_one_free"), "bogo"),
    **dict.fromkeys(("free_shipping", "free_delivery", "free_postage", "shipping"),
                    "free_shipping"),
    **dict.fromkeys(("points_multiplier", "points", "loyalty_points", "bonus_points",
                     "points_boost", "multiplier", "double_points", "triple_points",
                     "points_x"), "points_multiplier"),
    **dict.fromkeys(("bundle", "bundle_discount", "combo", "bundle_offer"), "bundle"),
    **dict.fromkeys(("free_item", "gift", "free_gift", "freebie", "gift_with_purchase", "gwp",
                     "sample"), "free_item"),
}


def catalog_points_rate(catalog: pd.DataFrame) -> tuple[float, bool]:
    """The base loyalty points' value as a share of spend: the catalog's ``points_rate``
    (one for the catalog, :func:`normalise_catalog`), else
    :data:`loyalist.response.value.POINTS_RATE`; and whether the catalog gave it."""
    from loyalist.response.value import POINTS_RATE

    given = (pd.to_numeric(catalog["points_rate"], errors="coerce").dropna()
             if "points_rate" in catalog else pd.Series(dtype=float))
    return (float(given.iloc[0]), True) if len(given) else (POINTS_RATE, False)


def canonical_kind(kind: object) -> str:
    """'Percentage', 'BOGO', 'free delivery', '2 for 1' -> the catalog's kind names."""
    k = re.sub(r"[^a-z0-9%]+", "_", str(kind).strip().lower()).strip("_")
    return KIND_ALIASES.get(k, k)


#: the keys (CSV columns) a catalog's promotion may have
CATALOG_KEYS = ("name", "kind", "value", "contact_cost", "min_spend", "max_spend",
                "eligible_segments", "category", "points_rate")
#: kinds whose value is a percent (at most 100)
PERCENT_KINDS = ("percent_discount", "bundle", "bogo")


def _unknown_key(frame: pd.DataFrame, key: str, source: str) -> str:
    """The message for a catalog key that is not in :data:`CATALOG_KEYS` (a misspelt key would
    otherwise be ignored silently: a category offer would go store-wide, a contact cost fall
    back to its default), naming the first promotion that sets it."""
    import difflib

    col = frame[key]
    given = col.notna() & (col.astype(str).str.strip() != "")
    i = int(given.to_numpy().nonzero()[0][0]) if given.any() else 0
    who = f" (promotion {str(frame['name'].iloc[i]).strip()!r})" if "name" in frame else ""
    plain = {k.replace("_", ""): k for k in CATALOG_KEYS}
    near = ([plain[key.replace("_", "").replace(" ", "")]]
            if key.replace("_", "").replace(" ", "") in plain
            else difflib.get_close_matches(key, CATALOG_KEYS, n=1, cutoff=0.6))
    hint = f"; did you mean {near[0]!r}?" if near else ";"
    return f"{source}: unknown key {key!r}{who}{hint} known keys: {', '.join(CATALOG_KEYS)}"


def _catalog_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its keys named as :data:`CATALOG_KEYS`: the spellings and other names
    that ``loyalist ingest --table promotion_catalog`` accepts ('Contact Cost', 'contactcost',
    'type', 'segments') are accepted here too, so a catalog file means the same whichever way
    it is loaded; anything else stays as written (and is refused as unknown)."""
    from loyalist.ingest.adapters import normalise
    from loyalist.ingest.tables import SPECS

    names = {normalise(k): k for k in CATALOG_KEYS} | dict(SPECS[s.T_CATALOG].synonyms)
    out = frame
    for c in frame.columns:
        key = names.get(normalise(str(c)))
        if c in CATALOG_KEYS or key is None:
            continue
        # one promotion may spell a key one way and the next another (YAML, TOML)
        merged = out[c] if key not in out else out[key].combine_first(out[c])
        out = out.drop(columns=[c]).assign(**{key: merged})
    return out


def _check_names(names: pd.Series, kinds: pd.Series, source: str) -> None:
    """Refuse a promotion without a name (it was planned and written to sends.csv as '' or
    'nan') or named like the hold-out group (:data:`loyalist.schema.CONTROL`: its sends,
    loaded back as promotion history, would be read as the control group)."""
    text = names.astype(str).str.strip()
    blank = names.isna() | (text == "")
    if blank.any():
        i = int(blank.to_numpy().nonzero()[0][0])
        raise DataError(f"{source}: promotion {i + 1} (kind {kinds.iloc[i]}) has no name; give "
                        "each promotion a unique name")
    held = text.str.casefold() == s.CONTROL
    if held.any():
        raise DataError(f"{source}: promotion name {text[held].iloc[0]!r} is the hold-out "
                        f"group's in the promotion history (its sends would be read as the "
                        "control group); rename the promotion")


def normalise_catalog(frame: pd.DataFrame, *, source: str = "catalog") -> pd.DataFrame:
    """Canonical catalog frame: required columns present, kinds known, values positive,
    names unique; list columns as ``;``-joined strings."""
    if frame.empty:
        raise DataError(f"{source}: the catalog has no promotions; add at least one")
    frame = frame.rename(columns={c: str(c).strip().lower() for c in frame.columns})
    missing = [c for c in ("name", "kind", "value") if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: the catalog needs column(s) {', '.join(missing)}; it has "
                        f"{', '.join(map(str, frame.columns))}")
    frame = _catalog_keys(frame)
    unknown = [c for c in frame.columns if c not in CATALOG_KEYS]
    if unknown:
        raise DataError(_unknown_key(frame, unknown[0], source))
    out = pd.DataFrame({"name": frame["name"].astype(str).str.strip(),
                        "kind": [canonical_kind(k) for k in frame["kind"]]})
    _check_names(frame["name"], out["kind"], source)
    notes: list[str] = []
    for col, default in (("value", math.nan), ("contact_cost", 0.0), ("min_spend", math.nan),
                         ("max_spend", math.nan), ("points_rate", math.nan)):
        raw = frame[col] if col in frame.columns else pd.Series(default, index=frame.index)
        # true/false (TOML, YAML) is no amount, nor is an infinite one (its cost broke the
        # optimizer after the response fit, naming no file)
        flag = raw.map(lambda v: isinstance(v, bool | np.bool_)).astype(bool)
        num = pd.to_numeric(raw.mask(flag), errors="coerce").astype(float)
        bad = (num.isna() & raw.notna() & (raw.astype(str).str.strip() != "")) | np.isinf(num)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            cell = raw.iloc[i].item() if hasattr(raw.iloc[i], "item") else raw.iloc[i]
            finite = " finite" if np.isinf(num.iloc[i]) else ""
            raise DataError(f"{source}: promotion {out['name'].iloc[i]!r} has {col} "
                            f"{cell!r}, not a{finite} number{_number_hint(cell)}")
        if col == "contact_cost":
            blank = [str(x) for x in out.loc[num.isna().to_numpy(), "name"]]
            if blank:  # stated: a forgotten cost makes every send look free to contact
                notes.append(f"{source}: no contact_cost for {', '.join(blank[:5])}"
                             f"{', ...' if len(blank) > 5 else ''}: taken as 0 per customer "
                             "contacted; give the cost of a message in the catalog if there "
                             "is one")
        out[col] = num.fillna(default) if col == "contact_cost" else num
    for col in ("eligible_segments", "category"):
        raw = frame[col] if col in frame.columns else pd.Series(None, index=frame.index)
        out[col] = [";".join(split_list(v)) for v in raw]
    checks = [
        (~out["kind"].isin(s.PROMOTION_KINDS), "kind",
         f"use one of {', '.join(s.PROMOTION_KINDS)}"),
        (~(out["value"] > 0), "value", "give a positive number (percent, amount or multiplier)"),
        (out["contact_cost"] < 0, "contact_cost", "give 0 or more per contact"),
        (out["min_spend"] < 0, "min_spend", "give 0 or more"),
        ((out["max_spend"] <= 0) | (out["max_spend"] < out["min_spend"]), "max_spend",
         "give a positive number at least min_spend"),
        ((out["kind"] == "points_multiplier") & (out["value"] <= 1), "value",
         "a points multiplier must be above 1, e.g. 2 for double points"),
        (out["kind"].isin(PERCENT_KINDS) & (out["value"] > 100), "value",
         "a percent_discount, bogo or bundle value is a percent: use 0..100"),
        ((out["points_rate"] < 0) | (out["points_rate"] >= 1), "points_rate",
         "give the base points' value as a share of spend, e.g. 0.01 for 1%"),
        (out["points_rate"].notna() & (out["kind"] != "points_multiplier"), "points_rate",
         "points_rate is the base points' value of a points_multiplier; leave it empty on "
         "other kinds"),
    ]
    for mask, col, fix in checks:
        if mask.any():
            i = int(mask.to_numpy().nonzero()[0][0])
            shown = frame[col].iloc[i] if col in frame else out[col].iloc[i]
            shown = shown.item() if hasattr(shown, "item") else shown
            has = (f"has no {col}" if shown is None or (isinstance(shown, float)
                                                        and math.isnan(shown))
                   else f"has {col} {shown!r}")
            raise DataError(f"{source}: promotion {out['name'].iloc[i]!r} {has}; {fix}")
    dup = out["name"].duplicated()
    if dup.any():
        raise DataError(f"{source}: promotion name {out['name'][dup].iloc[0]!r} appears twice; "
                        "names must be unique")
    rates = out["points_rate"].dropna().unique()
    if len(rates) > 1:
        who = out.dropna(subset=["points_rate"]).drop_duplicates("points_rate")["name"]
        raise DataError(f"{source}: promotions {who.iloc[0]!r} and {who.iloc[1]!r} give "
                        f"points_rate {rates[0]:g} and {rates[1]:g}; the base points' value is "
                        "the loyalty programme's, one for the whole catalog: give one")
    if not len(rates):
        out = out.drop(columns=["points_rate"])
    out = out.reset_index(drop=True)
    out.attrs["source"] = source  # named in the plan's messages about the catalog
    out.attrs["notes"] = notes  # what was assumed for cells left empty, for the plan
    return out


#: what a priors file may be, for the messages refusing another path
PRIORS_FILE = ("priors in CSV, TOML, YAML or JSON (`loyalist priors --out priors.csv` writes "
               "the defaults to edit)")
#: what one row of a priors file is, for the messages
PRIOR_ROW = ("a row gives kind, segment, incremental_prob, use_rate, e.g. "
             "`bogo,active,0.03,0.25`")
PRIOR_NUMBERS = {
    "incremental_prob": "give the extra purchase probability in the response window, 0 to 1 "
                        "(e.g. 0.02 for +2 percentage points)",
    "use_rate": "give the share of buyers who use the offer, 0 to 1 (e.g. 0.3 for 30%)",
}


def load_priors(path: str | Path) -> pd.DataFrame:
    """Read and check a priors file (:func:`normalise_priors`): CSV (lines starting with ``#``
    are comments, as ``loyalist priors`` writes them), or TOML / YAML / JSON holding the rows
    under ``prior`` (TOML: ``[[prior]]`` tables) or ``priors``, or (YAML, JSON) a bare list."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        import io

        text = _read_text(p, PRIORS_FILE)
        # comments blanked, not removed: a message names the line of the file
        body = "\n".join("" if x.lstrip().startswith("#") else x for x in text.splitlines())
        if not body.strip():
            raise DataError(f"{p}: the file holds no priors; give the header line "
                            f"{','.join(s.PRIOR_COLUMNS)} and a row per kind x segment to "
                            "change (`loyalist priors --out priors.csv` writes the defaults "
                            "to edit)")
        sep = _csv_delimiter(body)  # as the catalog's (:func:`load_catalog`)
        _check_row_lengths(body, sep, p, None if sep != "," else (
            "write its numbers with a decimal point (0.03, not 0,03) or remove the extra "
            "cells"))
        try:
            frame = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, skipinitialspace=True,
                                keep_default_na=False)
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
            raise DataError(f"{p}: cannot read the priors as CSV: {e}") from None
        if sep == ";":  # a spreadsheet's decimal commas: 0,02
            frame = frame.apply(lambda c: c.str.replace(",", ".", regex=False)
                                if c.name in PRIOR_NUMBERS else c)
    else:
        doc = _read_mapping(p, PRIORS_FILE, also=" or .csv")
        rows = doc.get("prior", doc.get("priors")) if isinstance(doc, Mapping) else doc
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise DataError(f"{p}: a priors file holds a list of rows under 'prior' (TOML: "
                            f"[[prior]] tables) or 'priors' (YAML/JSON); {PRIOR_ROW}")
        frame = pd.DataFrame(rows)
    return normalise_priors(frame, source=str(p))


def _number_hint(raw: object) -> str:
    """What to write instead of a spreadsheet's number text: ``10%`` -> 10, ``1,000`` -> 1000,
    ``5,50`` -> 5.50, ``$5`` -> 5 (a catalog cell is read as a plain number)."""
    text = str(raw).strip()
    plain = text.rstrip("%").strip().lstrip("$€£¥").strip()
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", plain):
        plain = plain.replace(",", "")
    elif re.fullmatch(r"\d+,\d{1,2}", plain):
        plain = plain.replace(",", ".")
    try:
        if not math.isfinite(float(plain)):  # 'inf', 'nan': nothing to write instead
            return ""
    except ValueError:
        return ""
    what = " (a percent discount's value is its percentage)" if text.endswith("%") else ""
    return f"; write {plain}{what}, a plain number without signs or separators"


def _prior_number(raw: object, col: str, where: str) -> float:
    """A probability cell of a priors row, or a DataError naming it and the fix."""
    text = "" if raw is None else str(raw).strip()
    if text == "" or (isinstance(raw, float) and math.isnan(raw)):
        raise DataError(f"{where}: no {col}; {PRIOR_NUMBERS[col]} (a row sets both numbers of "
                        "its kind x segment: copy the other from `loyalist priors`)")
    try:
        if isinstance(raw, bool):
            raise ValueError
        x = float(text)
    except ValueError:
        raise DataError(f"{where}: {col} {raw!r} is not a number; {PRIOR_NUMBERS[col]}"
                        ) from None
    if not 0.0 <= x <= 1.0:  # NaN and inf too
        raise DataError(f"{where}: {col} {x:g} is outside 0..1; {PRIOR_NUMBERS[col]}")
    return x


def normalise_priors(frame: pd.DataFrame, *, source: str = "priors") -> pd.DataFrame:
    """The checked rows of a priors table (:data:`loyalist.schema.PRIOR_COLUMNS`), each
    replacing the default of its kind x segment (:func:`loyalist.response.priors.with_overrides`):
    kinds as the catalog spells them (aliases accepted) or ``default``, segments one of
    :data:`loyalist.schema.LIFECYCLE_SEGMENTS`, both numbers in 0..1, each kind x segment
    once. A message names ``source``, the row (counted from 1, header and comments not counted)
    and the value."""
    kinds = (*s.PROMOTION_KINDS, s.DEFAULT_PRIOR_KIND)
    if frame.empty:
        raise DataError(f"{source}: no priors in it; {PRIOR_ROW}")
    frame = frame.rename(columns={c: str(c).strip().lower() for c in frame.columns})
    unknown = [c for c in frame.columns if c not in s.PRIOR_COLUMNS]
    if unknown:  # before the missing ones: a misspelt column is both
        import difflib

        near = difflib.get_close_matches(unknown[0], s.PRIOR_COLUMNS, n=1, cutoff=0.6)
        raise DataError(f"{source}: unknown column {unknown[0]!r}"
                        + (f"; did you mean {near[0]!r}?" if near else ";")
                        + f" the columns are {', '.join(s.PRIOR_COLUMNS)}")
    missing = [c for c in s.PRIOR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: column(s) {', '.join(missing)} missing (it has "
                        f"{', '.join(map(str, frame.columns))}); {PRIOR_ROW}")
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, r in enumerate(frame.to_dict(orient="records"), start=1):
        where = f"{source}: row {i}"
        raw_kind, raw_seg = r["kind"], r["segment"]
        kind = canonical_kind(raw_kind) if pd.notna(raw_kind) else ""
        if kind not in kinds:
            raise DataError(f"{where}: " + (f"kind {raw_kind!r} is unknown" if kind else
                                            "no kind") + "; use one of "
                            f"{', '.join(kinds)} ({s.DEFAULT_PRIOR_KIND}: kinds without rows "
                            "of their own)")
        seg = str(raw_seg).strip().lower() if pd.notna(raw_seg) else ""
        if seg not in s.LIFECYCLE_SEGMENTS:
            raise DataError(f"{where} ({kind}): " + (f"segment {raw_seg!r} is unknown" if seg
                                                     else "no segment") + "; use one of "
                            f"{', '.join(s.LIFECYCLE_SEGMENTS)} (the customer's lifecycle at "
                            "the plan date: no purchase yet, buying at their usual pace, "
                            "overdue, long gone)")
        where = f"{where} ({kind} x {seg})"
        if (kind, seg) in seen:
            raise DataError(f"{source}: {kind} x {seg} is given twice (rows "
                            f"{seen[kind, seg]} and {i}); give each kind x segment once")
        seen[kind, seg] = i
        rows.append({"kind": kind, "segment": seg,
                     **{c: _prior_number(r[c], c, where) for c in PRIOR_NUMBERS}})
    out = pd.DataFrame(rows, columns=list(s.PRIOR_COLUMNS))
    out.attrs["source"] = source  # named in the plan's assumptions
    return out


@dataclass
class Constraints:
    """Plan constraints beyond the budget (module docstring)."""

    min_spend: dict[str, float] = field(default_factory=dict)
    max_spend: dict[str, float] = field(default_factory=dict)
    max_segment_share: float | None = None
    cooldown_days: int = 0
    require_consent: bool = True
    min_age: dict[str, float] = field(default_factory=dict)
    inventory_caps: dict[str, float] = field(default_factory=dict)
    #: the file they were read from (named in messages about them); None: not from a file
    source: str | None = None

    @property
    def where(self) -> str:
        """How a message about them begins: ``"c.toml: "``, or nothing when not from a
        file."""
        return f"{self.source}: " if self.source else ""

    def check_spend(self, budget: float | None = None) -> Constraints:
        """Refuse (InfeasibleError) per-promotion spend bounds no plan can meet: a
        ``min_spend`` above its ``max_spend``, or ``min_spend`` adding up to more than
        ``budget`` (when given). Needs no data, so it runs before anything is loaded."""
        where = self.where
        for p, lo in self.min_spend.items():
            hi = self.max_spend.get(p)
            if hi is not None and lo > hi:
                raise InfeasibleError(f"{where}min_spend for {p} ({lo:,.2f}) is more than its "
                                      f"max_spend ({hi:,.2f}); lower the minimum or raise the "
                                      "maximum")
        total = sum(self.min_spend.values())
        if budget is not None and total > float(budget) * (1 + 1e-12) + 1e-9:
            each = ", ".join(f"{p} {v:,.2f}" for p, v in self.min_spend.items() if v > 0)
            one = len([v for v in self.min_spend.values() if v > 0]) == 1
            p, v = next((p, v) for p, v in self.min_spend.items() if v > 0)
            raise InfeasibleError(
                f"{where}" + (f"min_spend for {p} ({v:,.2f}) is" if one else
                              f"min_spend adds up to {total:,.2f} ({each}),")
                + f" more than the budget {float(budget):,.2f}; lower the "
                + ("minimum" if one else "minimums") + " or raise the budget")
        return self

    def check_promotions(self, promotions: Sequence[str]) -> None:
        """Refuse a ``min_spend`` or ``max_spend`` naming a promotion that is not one of the
        catalog's ``promotions`` (a plan checks it before the response model's fit)."""
        for key in ("min_spend", "max_spend"):
            unknown = sorted(p for p in getattr(self, key) if p not in promotions)
            if unknown:
                raise ParameterError(
                    f"{self.source or 'constraints'}: [{key}] names promotion "
                    f"{unknown[0]!r}, which is not in the catalog ({', '.join(promotions)}); "
                    "use a catalog name or remove it")

    def as_dict(self) -> dict[str, Any]:
        return {"min_spend": self.min_spend, "max_spend": self.max_spend,
                "max_segment_share": self.max_segment_share, "cooldown_days": self.cooldown_days,
                "require_consent": self.require_consent, "min_age": self.min_age,
                "inventory_caps": self.inventory_caps}


def _num_map(doc: Mapping[str, Any], key: str, source: str, *, lo: float = 0.0,
             hi: float = math.inf, what: str = "") -> dict[str, float]:
    raw = doc.get(key, {}) or {}
    if not isinstance(raw, Mapping):
        raise DataError(f"{source}: {key} must be a table of name = number")
    out = {}
    for k, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            within = f">= {lo:g}" if math.isinf(hi) else f"from {lo:g} to {hi:g}"
            raise DataError(f"{source}: {key}.{k} = {v!r}; give a number {within}{what}")
        out[str(k)] = float(v)
    return out


#: the command-line option of each constraint that has one (``load_constraints``' overrides)
CONSTRAINT_OPTIONS = {"max_segment_share": "--max-segment-share", "cooldown_days": "--cooldown"}

#: the highest ``min_age`` taken: above it no customer is of age (150 kept every knitwear offer
#: from everyone, without a word)
MAX_MIN_AGE = 100.0


def load_constraints(path: str | Path | None = None, **overrides: Any) -> Constraints:
    """Read a constraints file (or none) and apply keyword overrides (CLI options)."""
    source = str(path) if path is not None else "constraints"
    doc: Mapping[str, Any] = {}
    if path is not None:
        raw = _read_mapping(Path(path), CONSTRAINTS_FILE)
        if not isinstance(raw, Mapping):
            raise DataError(f"{source}: constraints must be a table of keys (see "
                            "`loyalist plan --help`)")
        doc = raw
    known = {"min_spend", "max_spend", "max_segment_share", "cooldown_days",
             "require_consent", "min_age", "inventory_caps"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise DataError(f"{source}: unknown key {unknown[0]!r}; known keys: "
                        f"{', '.join(sorted(known))}")
    c = Constraints(min_spend=_num_map(doc, "min_spend", source),
                    max_spend=_num_map(doc, "max_spend", source),
                    min_age=_num_map(doc, "min_age", source, hi=MAX_MIN_AGE,
                                     what=" (an age in years, e.g. 18)"),
                    inventory_caps=_num_map(doc, "inventory_caps", source))
    given = {k: v for k, v in overrides.items() if v is not None}
    share = given.get("max_segment_share", doc.get("max_segment_share"))
    cool = given.get("cooldown_days", doc.get("cooldown_days", 0))
    consent = given.get("require_consent", doc.get("require_consent", True))

    def named(key: str, value: object) -> str:
        """The value as the merchant wrote it: the command's option, else the file's key."""
        if key in given:
            return f"{CONSTRAINT_OPTIONS.get(key, '--' + key)} {value!r}"
        return f"{source}: {key} = {value!r}"

    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                              or not 0 < share <= 1):
        raise ParameterError(f"{named('max_segment_share', share)} is impossible; give a "
                             "share of the budget in (0, 1], e.g. 0.4")
    # 14.0 is whole days too (a JSON file written by Python, a YAML number typed 14.0)
    if isinstance(cool, bool) or not isinstance(cool, int | float) or not (
            math.isfinite(cool) and float(cool).is_integer()) or cool < 0:
        raise ParameterError(f"{named('cooldown_days', cool)} is impossible; give whole days "
                             ">= 0")
    if not isinstance(consent, bool):
        raise ParameterError(f"{named('require_consent', consent)}; give true or false")
    c.max_segment_share = None if share is None else float(share)
    c.cooldown_days = int(cool)
    c.require_consent = consent
    c.source = str(path) if path is not None else None
    return c.check_spend()


#: days in a budget month (``--budget-per-month``)
MONTH_DAYS = 30
#: the largest hold-out share a plan takes (more would leave most of the plan unsent)
MAX_HOLDOUT = 0.5


@dataclass
class PlanParams:
    """What the merchant asks for: budget, goal, period and target segments.

    The budget is either a total for the period (``budget``) or an amount per month
    (``budget_per_month``, months of :data:`MONTH_DAYS` days): then :meth:`check` sets
    ``budget`` to the period's total (``budget_per_month x period / 30``; a last part-month
    gets its share) and no month of the plan may spend more than its own budget
    (:meth:`months`)."""

    budget: float
    goal: str = "retention"
    period_days: int = 30
    segments: list[str] = field(default_factory=list)
    clear_categories: list[str] = field(default_factory=list)
    #: redistribute each promotion's effect by the offer's fit to the customer (an assumption;
    #: loyalist.promote.effects.offer_fit)
    offer_fit: bool = True
    #: budget per month of MONTH_DAYS days; when given, ``budget`` is derived from it
    budget_per_month: float | None = None
    #: share of the chosen customers held out as a control group (not sent), drawn at random
    #: within each promotion x segment, to measure what the plan made (0 to MAX_HOLDOUT)
    holdout: float = 0.0

    def check(self) -> PlanParams:
        if isinstance(self.period_days, bool) or not isinstance(self.period_days, int) \
                or not 1 <= self.period_days <= 365:
            raise ParameterError(f"--period {self.period_days!r} is impossible; give 1 to 365 "
                                 "days, e.g. --period 30")
        if self.budget_per_month is not None:
            b = self.budget_per_month
            if isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) \
                    or not 0 <= b <= 1e12:
                raise ParameterError(f"--budget-per-month {b!r} is impossible; give an amount "
                                     "from 0 to 1e12, e.g. --budget-per-month 2000")
            self.budget = float(b) * self.period_days / MONTH_DAYS
        if isinstance(self.budget, bool) or not isinstance(self.budget, int | float) \
                or not math.isfinite(self.budget) or not 0 <= self.budget <= 1e12:
            raise ParameterError(f"--budget {self.budget!r} is impossible; give an amount from 0 "
                                 "to 1e12, e.g. --budget 5000")
        h = self.holdout
        if isinstance(h, bool) or not isinstance(h, int | float) or not math.isfinite(h) \
                or not 0 <= h <= MAX_HOLDOUT:
            raise ParameterError(f"--holdout {h!r} is impossible; give the share of the chosen "
                                 f"customers to keep as a control group, 0 to {MAX_HOLDOUT}, "
                                 "e.g. --holdout 0.1")
        self.holdout = float(h)
        if isinstance(self.goal, str):
            g = self.goal.strip().lower().replace("-", "_").replace(" ", "_")
            self.goal = GOAL_ALIASES.get(g, g)
        if self.goal not in GOALS:
            raise ParameterError(f"--goal {self.goal!r} is unknown; use one of "
                                 f"{', '.join(GOALS)}")
        self.clear_categories = [str(c).strip() for c in self.clear_categories]
        if "" in self.clear_categories:
            raise ParameterError("--clear '' names no category; give a category, e.g. "
                                 "--clear outerwear")
        if self.clear_categories and self.goal not in CLEAR_GOALS:
            raise ParameterError(
                f"--clear {self.clear_categories[0]!r} is used only by the goals "
                f"{' and '.join(CLEAR_GOALS)} (profit credits the categories' revenue as "
                f"overstocked); goal {self.goal} would ignore it: drop --clear or use "
                "--goal clear_inventory")
        return self

    def months(self) -> list[tuple[int, int, float]]:
        """The budget months of the period: ``(first day, days, budget)`` each, the first
        day counted from the plan date. One month with the whole budget unless the budget
        was given per month."""
        if self.budget_per_month is None:
            return [(0, self.period_days, float(self.budget))]
        out = []
        for start in range(0, self.period_days, MONTH_DAYS):
            days = min(MONTH_DAYS, self.period_days - start)
            out.append((start, days, float(self.budget_per_month) * days / MONTH_DAYS))
        return out
