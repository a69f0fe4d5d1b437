"""Product models behind the facade: recommendations (and their evaluation), the daily revenue
forecast, and products bought together (basket rules).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import jsontext
from loyalist import schema as s
from loyalist.errors import DataError, ParameterError, check_days
from loyalist.features import to_as_of
from loyalist.ingest.parse import customer_key
from loyalist.pipeline.store import Progress
from loyalist.store import Store
from loyalist.store import currency as store_currency

#: the longest recommendation test window, in days (the longest horizon is
#: :data:`loyalist.features.MAX_HORIZON_DAYS`)
MAX_TEST_DAYS = 365

#: the file the recommendations are written to (and the store table s.T_RECOMMENDATIONS,
#: keyed by as_of, method, customer)
RECOMMENDATIONS_CSV = "recommendations.csv"
RECOMMENDATION_COLUMNS = (s.CUSTOMER_ID, "rank", s.PRODUCT_ID, "score", "method")

FORECAST_BY = ("category", "store_id", "country")
#: below this share of (customer, product) pairs bought again, a product already bought is
#: not recommended (a store of one-off items: nobody buys the same item twice)
MIN_REPEAT_SHARE = 0.01


def _check_n(n: object) -> None:
    """``-n`` (products per customer, companions per product): an integer 1..1000."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise ParameterError(f"-n {n!r} is impossible; use an integer 1..1000")


def _check_min_count(min_count: object) -> None:
    """``--min-count`` (fewest shared orders for a basket rule): an integer >= 1."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ParameterError(f"--min-count {min_count!r} is impossible; give the fewest orders "
                             "two products must share, a whole number >= 1, e.g. --min-count 5")


def _rec_as_of(st: Store, as_of: str | pd.Timestamp | None) -> pd.Timestamp:
    """``as_of`` for recommendations: the default, or one at most
    :data:`~loyalist.evaluation.splits.MAX_GAP_DAYS` after the last purchase (as `train`
    and `forecast` allow): a later one would rank products on a past that stopped long
    before, and replace the store's recommendations under a date with no data."""
    from loyalist.evaluation.splits import check_observed

    if as_of is None:
        return st.default_as_of()
    ts = to_as_of(as_of)
    if st.has_rows(s.T_TRANSACTIONS):
        check_observed(st.date_range()[1], ts, why="nothing is known of what sells then")
    return ts


def _interactions(store_path: Path | str, as_of: str | pd.Timestamp | None
                  ) -> tuple[Any, pd.Timestamp]:
    """Customer purchases before ``as_of`` as :class:`~loyalist.recommend.Interactions`."""
    from loyalist.features import no_purchase_error
    from loyalist.recommend.interactions import Interactions

    with Store(store_path, read_only=True) as st:
        ts = _rec_as_of(st, as_of)
        data = Interactions.from_store(st, ts)
        if data.events.empty:
            raise DataError(f"{store_path}: {no_purchase_error(st, ts)}")
    _require_two_products(store_path, data.items[:data.n_warm_items], ts)
    return data, ts


def _require_known_customers(store_path: Path | str, ids: Sequence[str]) -> None:
    """A customer id must be in the store (transactions or the customers table): a typo would
    otherwise get cold-start recommendations as if it were a new customer."""
    with Store(store_path, read_only=True) as st:
        st.require(s.T_TRANSACTIONS)
        frame = pd.DataFrame({s.CUSTOMER_ID: list(dict.fromkeys(ids))})
        st.con.register("__asked", frame)
        try:
            cid = s.CUSTOMER_ID
            where = f"SELECT 1 FROM {s.T_TRANSACTIONS} t WHERE t.{cid} = a.{cid}"
            if st.has_rows(s.T_CUSTOMERS):
                where += f" UNION ALL SELECT 1 FROM {s.T_CUSTOMERS} c WHERE c.{cid} = a.{cid}"
            unknown = [r[0] for r in st.con.execute(
                f"SELECT {cid} FROM __asked a WHERE NOT EXISTS ({where})").fetchall()]
        finally:
            st.con.unregister("__asked")
    if unknown:
        more = f" (and {len(unknown) - 1:,} more)" if len(unknown) > 1 else ""
        raise DataError(
            f"{store_path}: customer {unknown[0]!r}{more} is not in the store (no transaction, "
            "not in the customers table); check the id, or load the customer first "
            "(loyalist ingest customers.csv) to get recommendations for a new customer")


def _require_products(store_path: Path | str, lines: pd.DataFrame, ts: pd.Timestamp) -> None:
    """Product models need two products at least (an order-level file has one placeholder)."""
    _require_two_products(store_path, lines.loc[lines[s.ORDERED_AT] < ts, s.PRODUCT_ID].unique(),
                          ts)


def _require_two_products(store_path: Path | str, products: Any, ts: pd.Timestamp) -> None:
    why = one_product(store_path, products, ts)
    if why:
        raise DataError(why)


def one_product(store_path: Path | str, products: Any, ts: pd.Timestamp) -> str | None:
    """Why no product model can be made when the purchases before ``ts`` hold one product
    (an order-level file's placeholder, or a one-product shop: CDNOW's 'cd'); None otherwise.
    The report says it too, instead of asking for a command that would refuse."""
    if len(products) != 1:
        return None
    return (f"{store_path}: the purchases before as_of {ts.date()} hold one product "
            f"({products[0]!r}), so there is nothing to recommend or pair; product models need "
            "order lines with product ids (load a line-level export, or name the product column "
            "with --map product_id=<column>)")


def _customers(customer: str | Sequence[str] | None) -> list[str] | None:
    if customer is None:
        return None
    ids = [customer] if isinstance(customer, str) else [str(c) for c in customer]
    ids = [customer_key(c) for c in ids if c and c.strip()]
    if not ids:
        raise ParameterError("--customer is empty; pass a customer id, e.g. --customer 12347")
    return ids


def recommend(store_path: Path | str, as_of: str | pd.Timestamp | None = None,
                  customer: str | Sequence[str] | None = None, out_dir: Path | str = "out",
                  n: int = 10, method: str = "hybrid", *, new_only: bool = False,
                  random_state: int | None = 0, save: bool = True,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Fit ``method`` on purchases before ``as_of`` and recommend ``n`` products to
    ``customer`` (one id or several; default: every customer with a purchase before
    ``as_of``, one who sent every purchase back included: they get the cold-start list).
    ``new_only`` leaves out products the customer already bought.

    Writes ``out_dir/recommendations.csv`` (customer_id, rank, product_id, description (the
    products table's, else the latest sale line's), score, method, reason, because_of:
    :func:`loyalist.recommend.registry.reasons`) and,
    with ``save``, the store table ``recommendations`` (plus as_of and new_only), replacing the
    rows of the same as_of, method and customers. Returns a summary dict."""
    from loyalist.recommend.hybrid import HybridRecommender
    from loyalist.recommend.registry import METHODS, make_model, reasons

    if method not in METHODS:
        raise ParameterError(f"--method {method!r} is unknown; use one of {', '.join(METHODS)}")
    _check_n(n)
    ids = _customers(customer)
    if ids is not None:
        _require_known_customers(store_path, ids)
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    say("reading the purchases")
    data, ts = _interactions(store_path, as_of)
    say(f"fitting the {method} recommender on {len(data.events):,} purchases of "
        f"{data.n_customers:,} customers and {data.n_items:,} products")
    model = make_model(method, random_state=random_state).fit(data)
    fit_s = time.perf_counter() - t0
    # by default every customer who bought before as_of, those who sent it all back included
    buyers = data.customers.union(pd.Index(data.returned[s.CUSTOMER_ID].unique()))
    targets = np.asarray(ids if ids is not None else buyers, dtype=object)
    notes: list[str] = []
    repeat = data.repeat_share()
    if not new_only and repeat < MIN_REPEAT_SHARE:
        new_only = True
        notes.append(f"{repeat:.1%} of the products customers bought were bought again in "
                     f"another order (< {MIN_REPEAT_SHARE:.0%}): products a customer already "
                     "bought are left out, as with --new-only")
    if len(data.returned):
        notes.append(f"{len(data.returned):,} products customers bought and sent back in full "
                     "(returned or cancelled) count as not bought and are not recommended to "
                     "them")
    candidates = _candidates(data, n, notes)
    say(f"ranking {n} products for {len(targets):,} customers")
    items, scores = model.recommend(targets, n, exclude_purchased=new_only,
                                    candidates=candidates)
    say("why each product is on its list")
    why, because = reasons(model, method, targets, items, exclude_purchased=new_only)
    frame = _frame(targets, items, scores, method, why, because, data.catalog[s.DESCRIPTION])
    say("writing the recommendations")
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)
    csv = out_path / RECOMMENDATIONS_CSV
    frame.to_csv(csv, index=False)
    if save:
        stored = frame.assign(as_of=ts, new_only=bool(new_only))
        where, params = "as_of = ? AND method = ?", [ts.to_pydatetime(), method]
        if ids is not None:
            where += f" AND {s.CUSTOMER_ID} IN ({', '.join('?' * len(ids))})"
            params += list(ids)
        with Store(store_path) as st:
            st.write_frame(s.T_RECOMMENDATIONS, stored, replace_where=where, params=params)
    cold = int((data.customer_rows(targets) < 0).sum())
    result: dict[str, Any] = {
        "as_of": str(ts.date()), "method": method, "n": n, "new_only": bool(new_only),
        "customers": len(targets), "cold_start_customers": cold, "rows": len(frame),
        "catalogue_items": data.n_items, "training_purchases": len(data.events),
        "seconds": round(time.perf_counter() - t0, 2), "fit_seconds": round(fit_s, 2),
        "csv": str(csv), "table": s.T_RECOMMENDATIONS if save else None,
        "repeat_share": round(repeat, 4), "notes": notes,
        "reasons": {str(k): round(float(v), 4) for k, v in
                    frame["reason"].value_counts(normalize=True).items()},
    }
    if isinstance(model, HybridRecommender):
        result["weights"] = model.weights_
    if ids is not None and len(ids) <= 5:
        result["recommendations"] = frame.to_dict(orient="records")
    return result


def _candidates(data: Any, n: int, notes: list[str]) -> pd.Index | None:
    """The products that may be recommended (None: all), with a note in ``notes`` for each
    rule that leaves some out: only products someone bought in the ``ON_SALE_DAYS`` before
    as_of (unless fewer than ``n`` would be left), and never one out of stock, whose stock in
    the catalogue (the products table's) is known and <= 0 (a missing stock is no reason to
    leave a product out)."""
    from loyalist.recommend.interactions import ON_SALE_DAYS

    keep = np.ones(data.n_items, dtype=bool)
    on_sale = data.on_sale()
    if n <= on_sale.sum() < data.n_warm_items:
        keep = on_sale
        notes.append(f"{data.n_warm_items - int(on_sale.sum()):,} products nobody bought in the "
                     f"{ON_SALE_DAYS} days before as_of (a past season's, or out of the range) "
                     "are not recommended")
    out = (data.catalog[s.STOCK] <= 0).to_numpy() & keep
    if out.any():
        keep = keep & ~out
        notes.append(f"{int(out.sum()):,} products out of stock (stock <= 0 in the products table) "
                     "are not recommended")
    return None if keep.all() else data.items[keep]


def _frame(customers: np.ndarray, items: np.ndarray, scores: np.ndarray, method: str,
           why: np.ndarray, because: np.ndarray, descriptions: pd.Series) -> pd.DataFrame:
    """The recommendations' rows; ``descriptions`` by product id (the catalogue's)."""
    n = items.shape[1]
    frame = pd.DataFrame({
        s.CUSTOMER_ID: np.repeat(customers.astype(str), n),
        "rank": np.tile(np.arange(1, n + 1), len(customers)),
        s.PRODUCT_ID: items.ravel(),
        s.DESCRIPTION: descriptions.reindex(items.ravel().astype(str)).to_numpy(),
        "score": np.round(scores.ravel(), 6), "method": method,
        "reason": why.ravel(), "because_of": because.ravel()})
    return frame[frame[s.PRODUCT_ID].notna()].reset_index(drop=True)


def evaluate_recommend(store_path: Path | str, as_of: str | pd.Timestamp | None = None,
                 test_days: int = 30, *, methods: Sequence[str] | None = None,
                 tune: bool = False, validation_days: int | None = None, k: int = 10,
                 out_dir: Path | str | None = None, random_state: int | None = 0,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Temporal evaluation: fit on purchases before ``as_of``, test on the next ``test_days``;
    every method next to recent popularity, on both tasks (see
    :mod:`loyalist.recommend.evaluate`). ``tune`` chooses hyper-parameters on the
    ``validation_days`` before ``as_of`` first. Default ``as_of``: ``test_days`` before the
    day after the last transaction. With ``out_dir``, writes ``recommend_metrics.csv`` and
    ``recommend_evaluation.json``. The options are checked before ``progress`` hears of the
    work."""
    from loyalist.evaluation.splits import check_test_window
    from loyalist.recommend import interactions as inter_mod
    from loyalist.recommend.registry import METHODS
    from loyalist.recommend.tuning import compare

    test_days = check_days(test_days, "--test-days", max_days=MAX_TEST_DAYS, example=30)
    if validation_days is not None:
        validation_days = check_days(validation_days, "validation_days",
                                     max_days=MAX_TEST_DAYS, example=30)
    unknown = [m for m in methods or () if m not in METHODS]
    if unknown:
        raise ParameterError(f"--methods {', '.join(map(repr, unknown))}: unknown; give a "
                             f"comma-separated list of: {', '.join(METHODS)}")
    if progress is not None:
        progress(f"evaluating {', '.join(methods) if methods else 'every'} recommender on the "
                 f"{test_days} days after as_of" + (" (tuning first)" if tune else ""))
    t0 = time.perf_counter()
    with Store(store_path, read_only=True) as st:
        ts = to_as_of(as_of) if as_of is not None \
            else st.default_as_of() - pd.Timedelta(days=test_days)
        check_test_window(st.date_range()[1], ts, test_days, option="--test-days")
        lines, catalog = inter_mod.load(st, ts, horizon_days=test_days)
    _require_products(store_path, lines, ts)
    report = compare(lines, catalog, ts, test_days=test_days, methods=methods,
                     tune_params=tune, validation_days=validation_days, k=k,
                     random_state=random_state)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(report["metrics"]).to_csv(path / "recommend_metrics.csv", index=False)
        (path / "recommend_evaluation.json").write_text(
            jsontext.dumps(report))
        report["outputs"] = [str(path / "recommend_metrics.csv"),
                             str(path / "recommend_evaluation.json")]
    return report


def forecast(store_path: str | Path, horizon: int = 30, out_dir: str | Path = "out",
                 by: str | None = None, country: str | None = None,
                 as_of: str | pd.Timestamp | None = None,
                 models: str | list[str] | tuple[str, ...] | None = None, *,
                 save: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """Forecast daily net revenue ``horizon`` days from ``as_of`` (default: the day after the
    last transaction) for the total and, with ``by``, each category / store / country.

    Writes into ``out_dir``: ``forecast.csv`` (series, date, model, mean, lo80, hi80, lo95,
    hi95, note; the chosen model per series; the note says when it has no yearly pattern;
    ``currency``, the store's, when known),
    ``backtest.csv`` (series, model, origin, days, mape, smape, mase, coverage80,
    coverage95; every model and the honest ``auto`` selection), ``forecast_totals.csv`` (each
    series' 7- and 30-day totals with intervals of their own, also ``totals`` in the result)
    and ``forecast.png``; with
    ``save``, the same two tables to the store (``forecast`` and ``forecast_backtest``, plus
    ``as_of``) and the 7- and 30-day totals with their own intervals (``forecast_totals``:
    series, model, days, mean, lo80, hi80, lo95, hi95, as_of), replacing the rows of the same
    as_of. Returns a
    JSON-ready dict: as_of, horizon, holidays, origins, per series
    the chosen model, its backtest metrics and the seasonal naive's, skipped series, files.
    ``models`` (names or a comma list) overrides the candidates (default
    :data:`loyalist.forecast.DEFAULT_MODELS`; the seasonal naive is always run). The options
    are checked before ``progress`` hears of the work.
    """
    from loyalist.forecast import forecast_daily_revenue, read_daily_revenue
    from loyalist.forecast.forecaster import MAX_HORIZON, MODELS
    from loyalist.forecast.plot import plot_forecast
    from loyalist.forecast.public_holidays import resolve_country

    t0 = time.perf_counter()
    horizon = check_days(horizon, "--horizon", max_days=MAX_HORIZON, example=30)
    if by is not None and by not in FORECAST_BY:
        raise ParameterError(f"--by {by!r} is not supported; use one of: {', '.join(FORECAST_BY)}")
    if country:
        resolve_country(country)  # fail on a bad --country before reading anything
    params: dict[str, Any] = {}
    if models:
        params["models"] = tuple(m.strip() for m in (models.split(",") if isinstance(models, str)
                                                     else models) if m.strip())
        unknown = [m for m in params["models"] if m not in MODELS]
        if unknown:
            raise ParameterError(f"--models {', '.join(map(repr, unknown))}: unknown; give a "
                                 f"comma-separated list of: {', '.join(MODELS)}")
    if progress is not None:
        progress(f"backtesting the candidate models and forecasting {horizon} days"
                 + (f" (total and per {by})" if by else ""))
    with Store(store_path, read_only=True) as st:
        ts = to_as_of(as_of) if as_of is not None else st.default_as_of()
        daily, by_country = read_daily_revenue(st, as_of=ts, by=by)
        code = store_currency(st)
    fc = forecast_daily_revenue(daily, by_country, as_of=ts, horizon=horizon, by=by,
                                country=country, **params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"forecast": out / "forecast.csv", "totals": out / "forecast_totals.csv",
             "backtest": out / "backtest.csv", "plot": out / "forecast.png"}
    fcst, totals = fc.predict(), fc.predict_totals()
    money = {"currency": code} if code else {}
    fcst.assign(date=fcst["date"].dt.date, **money).to_csv(files["forecast"], index=False)
    totals.assign(**money).to_csv(files["totals"], index=False)
    bt = fc.backtest_.assign(origin=fc.backtest_["origin"].dt.date)
    bt.to_csv(files["backtest"], index=False)
    plot_forecast(fc.series_, fcst, files["plot"], chosen=fc.chosen_)
    if save:
        where, at = "as_of = ?", [ts.to_pydatetime()]
        with Store(store_path) as st:
            st.write_frame(s.T_FORECAST, fcst.assign(as_of=ts), replace_where=where, params=at)
            st.write_frame(s.T_FORECAST_BACKTEST, fc.backtest_.assign(as_of=ts),
                           replace_where=where, params=at)
            st.write_frame(s.T_FORECAST_TOTALS, totals.assign(as_of=ts),
                           replace_where=where, params=at)
    business = fc.countries_.get("total")
    return {
        "as_of": str(ts.date()),
        "horizon": horizon,
        "currency": code,
        "by": by,
        "models": fc.models_,
        "holidays": fc.calendars_["total"].country.label
        if fc.calendars_["total"].country else None,
        "holidays_source": business.source if business else None,
        "origins": [str(o.date()) for o in fc.origins_],
        "series": fc.report(),
        "totals": totals.to_dict("records"),
        "skipped": fc.skipped_,
        "files": {k: str(v) for k, v in files.items()},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _baskets(store_path: Path | str, as_of: str | pd.Timestamp | None, min_count: int
             ) -> tuple[Any, pd.Series, pd.Timestamp]:
    """Basket rules over every order before ``as_of``, guest orders included (baskets need
    orders, not customers): the fitted :class:`FrequentlyBoughtTogether`, each product's
    latest description (empty when the data has none) and the as_of. The (order, product)
    codes come straight from DuckDB: 10M lines in a few seconds, where building the
    customer-level interaction structures took 29 s and 3.9 GB."""
    from loyalist.recommend.basket import FrequentlyBoughtTogether

    _check_min_count(min_count)
    model = FrequentlyBoughtTogether(min_count=min_count)
    model._validate_params()
    sale = (f"{s.LINE_KIND} = 'sale' AND {s.QUANTITY} > 0 AND {s.ORDERED_AT} < ? "
            f"AND {s.PRODUCT_ID} IS NOT NULL")
    with Store(store_path, read_only=True) as st:
        ts = _rec_as_of(st, as_of)
        at = [ts.to_pydatetime()]
        items = st.query(f"""SELECT {s.PRODUCT_ID}, arg_max({s.DESCRIPTION}, {s.ORDERED_AT})
                                 FILTER (WHERE {s.DESCRIPTION} IS NOT NULL) AS {s.DESCRIPTION}
                             FROM {s.T_TRANSACTIONS} WHERE {sale}
                             GROUP BY 1 ORDER BY 1""", at)
        if items.empty:
            raise DataError(f"{store_path}: no sale before as_of {ts.date()}; choose a later "
                            "--as-of")
        _require_two_products(store_path, items[s.PRODUCT_ID].unique(), ts)
        codes = st.con.execute(f"""
            WITH p AS (SELECT DISTINCT {s.ORDER_ID}, {s.PRODUCT_ID}
                       FROM {s.T_TRANSACTIONS} WHERE {sale})
            SELECT dense_rank() OVER (ORDER BY {s.ORDER_ID}) - 1 AS o,
                   dense_rank() OVER (ORDER BY {s.PRODUCT_ID}) - 1 AS i FROM p""",
                               at).fetchnumpy()
    ids = pd.Index(items[s.PRODUCT_ID].astype(str))
    model.fit_baskets(codes["o"].astype(np.int64), codes["i"].astype(np.int64), ids)
    return model, items[s.DESCRIPTION].set_axis(ids), ts


def bought_together(store_path: Path | str, product: Sequence[str], *,
                    as_of: str | pd.Timestamp | None = None, n: int = 10,
                    by: str = "confidence", min_count: int = 5) -> dict[str, Any]:
    """Frequently bought together: for each product, its ``n`` best companions by association
    rules over the orders before ``as_of`` (support, confidence, lift)."""
    from loyalist.recommend.basket import ORDERINGS

    _check_n(n)
    if by not in ORDERINGS:
        raise ParameterError(f"--by {by!r} is unknown; use one of: {', '.join(ORDERINGS)}")
    ids = [p.strip() for p in product if p and p.strip()]
    if not ids:
        raise ParameterError("--product is empty; pass a product id, e.g. --product 85123A")
    model, _, ts = _baskets(store_path, as_of, min_count)
    known = set(map(str, model.items_))
    unknown = [p for p in ids if p not in known]
    if len(unknown) == len(ids):
        raise DataError(f"product {unknown[0]!r} has no purchase before {ts.date()}; pass a "
                        f"product id from the transactions, e.g. {next(iter(sorted(known)))}")
    table = model.together(ids, n, by=by)
    return {"as_of": str(ts.date()), "by": by, "orders": int(model.n_orders_),
            "unknown_products": unknown,
            "rules": table.to_dict(orient="records")}


def basket_rules(store_path: Path | str, out_dir: Path, *,
                 as_of: str | pd.Timestamp | None = None, n: int = 5, min_count: int = 5,
                 save: bool = True) -> dict[str, Any]:
    """Every product's ``n`` best companions (association rules over all orders before
    ``as_of``, guest orders included), most-bought products first, written to
    ``out_dir/together.csv`` and (``save``) the store table ``basket_rules``: what to place,
    bundle or suggest next to what."""
    _check_n(n)
    model, names, ts = _baskets(store_path, as_of, min_count)
    by_orders = np.argsort(-model.item_orders_, kind="stable")
    table = model.together(np.asarray(model.items_, dtype=object)[by_orders], n)
    if table.empty:
        pairs = int(model.counts_.nnz // 2)
        if pairs:  # bought together often enough, but no more often than by chance
            raise DataError(
                f"{store_path}: {pairs:,} pair(s) of products were bought together in "
                f"{min_count} or more of the {model.n_orders_:,} orders before {ts.date()}, "
                f"but none more often than chance (lift above {model.min_lift:g}): the "
                "products sell independently of each other, so there are no basket rules to "
                "report")
        raise DataError(f"{store_path}: no two products were bought together in {min_count} or "
                        f"more of the {model.n_orders_:,} orders before {ts.date()}; there are "
                        "no basket rules to report")
    table.insert(1, "product_orders", model.item_orders_[
        model.items_.get_indexer(table[s.PRODUCT_ID].astype(str))].astype(np.int64))
    if names.notna().any():
        table.insert(1, s.DESCRIPTION, table[s.PRODUCT_ID].astype(str).map(names))
        table.insert(table.columns.get_loc("consequent") + 1, "consequent_description",
                     table["consequent"].astype(str).map(names))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "together.csv"
    table.to_csv(path, index=False)
    if save:
        with Store(store_path) as st:
            st.write_frame(s.T_BASKET_RULES,
                           table.assign(orders=int(model.n_orders_), as_of=ts),
                           replace_where="as_of = ?", params=[ts.to_pydatetime()])
    return {"as_of": str(ts.date()), "orders": int(model.n_orders_),
            "products": int(table[s.PRODUCT_ID].nunique()), "rules": len(table),
            "csv": str(path)}
