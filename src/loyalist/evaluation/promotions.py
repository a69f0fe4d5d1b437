"""Out-of-time evaluation of the promotion response model, for ``loyalist evaluate promotions``.

:func:`evaluate_promotions` checks that the store's promotion history can be split in time
(refusing with what to do when it cannot), then runs
:func:`loyalist.response.evaluate_out_of_time`: the uplift learner the plan uses is trained on
the exposures whose response window closed by the cutoff and judged on the later campaigns,
against "highest churn risk first" and random targeting (Qini coefficient, AUUC, uplift at
10% and 30%; :mod:`loyalist.response.metrics`).

The learner is fitted with ``n_bags=1``: the scores evaluated are the fit on every row, which
does not depend on the bootstrap bags (they only make the plan's intervals), so the numbers
are the same as with the plan's default bags at a fraction of the time.

:func:`qini_curves` recomputes the pooled test set's scores (the same seed, so the same fit)
for the Qini-curve plot, and :func:`write_promotion_card` writes the card: markdown, one
self-contained HTML file, the JSON and the PNG.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loyalist import __version__
from loyalist import schema as s
from loyalist.errors import DataError
from loyalist.evaluation.card import write_card
from loyalist.features import to_as_of
from loyalist.store import Store

__all__ = ["EVAL_LEARNER_PARAMS", "RANDOM_TRIALS", "STRATEGIES", "TEST_CAMPAIGNS", "check_history",
           "evaluate_promotions", "qini_curves", "write_promotion_card"]

#: campaigns held out by default (:func:`loyalist.response.default_cutoff`)
TEST_CAMPAIGNS = 3
#: the evaluation's learner settings: one fit on every row, no bootstrap bags (module doc)
EVAL_LEARNER_PARAMS: dict[str, Any] = {"n_bags": 1}
#: the targeting orders compared, by their key in the result, with the name a person reads
STRATEGIES = {"model": "model", "churn_heuristic": "churn-first", "random": "random"}
#: random orderings averaged for the "random" rows (and their Qini p90)
RANDOM_TRIALS = 20
#: points of each curve kept for the plot and the JSON (fractions 0, 1%, ..., 100%)
CURVE_POINTS = 101
#: random orderings drawn for the plot's band
RANDOM_CURVES = 50

INGEST_HINT = ("load the campaign sends (customer_id, promotion, sent_at; the hold-out group "
               "as promotion 'control') with `loyalist ingest promotions.csv --store {store} "
               "--table promotions`")


def check_history(store: Store, *, as_of: Any = None, test_campaigns: int = TEST_CAMPAIGNS
                  ) -> tuple[pd.Timestamp, int]:
    """The cutoff (``as_of``, or :func:`~loyalist.response.default_cutoff`) and the response
    window in days, once the promotion history is known to support an out-of-time split:
    a DataError names what is missing (no history, no control group, too few campaigns with
    a complete window, or an ``as_of`` leaving nothing to train on or to test) and the fix."""
    from loyalist.response import default_cutoff, default_window_days
    from loyalist.response.data import CONTROL, campaign_dates

    ts = to_as_of(as_of) if as_of is not None else None  # a bad date first
    hint = INGEST_HINT.format(store=store.path)
    dates = campaign_dates(store)
    if len(dates) == 0:
        raise DataError(f"this store has no promotion history (table {s.T_PROMOTIONS} is "
                        f"{'empty' if store.has_table(s.T_PROMOTIONS) else 'absent'}), so the "
                        f"response model has nothing to be evaluated on; {hint}")
    counts = store.query(f"SELECT count(*) AS n, count(*) FILTER (WHERE {s.PROMOTION} = "
                         f"'{CONTROL}') AS c FROM {s.T_PROMOTIONS}").iloc[0]
    if int(counts["c"]) == 0:
        raise DataError(f"{s.T_PROMOTIONS}: 0 of {int(counts['n']):,} exposures are "
                        f"'{CONTROL}'; an uplift evaluation compares each promotion with a "
                        "randomised hold-out group sent nothing in the same campaigns; "
                        f"{hint}")
    w = default_window_days(dates)
    end = store.default_as_of()
    closed = dates[dates + pd.Timedelta(days=w) <= end]
    span = (f"{len(dates)} campaign{'s' if len(dates) != 1 else ''} (send days, "
            f"{dates.iloc[0].date()} to {dates.iloc[-1].date()})")
    if ts is None:
        if len(closed) < test_campaigns + 1:
            raise DataError(f"{s.T_PROMOTIONS}: {span}, {len(closed)} with a complete {w}-day "
                            f"response window before the data end on {end.date()}; an "
                            f"out-of-time evaluation needs at least {test_campaigns + 1} (at "
                            f"least 1 to train on, {test_campaigns} held out to test): load a "
                            "longer promotion history (or later sales, which close the last "
                            "windows)")
        return default_cutoff(store, window_days=w, test_campaigns=test_campaigns), w
    tested = closed[closed >= ts]
    trained = dates[dates + pd.Timedelta(days=w) <= ts]
    if ts > end or len(tested) == 0:
        where = (f"is beyond the data (last sale on {(end - pd.Timedelta(days=1)).date()})"
                 if ts > end else "leaves no campaign to test")
        latest = (f"the last campaign whose {w}-day window closes by {end.date()} was sent "
                  f"on {closed.iloc[-1].date()}; give --as-of {closed.iloc[-1].date()} or "
                  "earlier" if len(closed) else
                  f"no campaign's {w}-day window closes before the data end on {end.date()}")
        raise DataError(f"--as-of {ts.date()} {where}: the model is judged on campaigns sent "
                        f"on or after it whose response window has closed; {latest} (or "
                        "leave --as-of out to hold out the last "
                        f"{test_campaigns} such campaigns)")
    if len(trained) == 0:
        first = dates.iloc[0] + pd.Timedelta(days=w)
        raise DataError(f"--as-of {ts.date()} leaves nothing to train on: the model learns "
                        f"from campaigns whose {w}-day window closed by --as-of, and the "
                        f"window of the first (sent {dates.iloc[0].date()}) closes on "
                        f"{first.date()}; "
                        f"give --as-of {first.date()} or later")
    return ts, w


def evaluate_promotions(store: Store, *, as_of: Any = None,
                        test_campaigns: int = TEST_CAMPAIGNS, random_state: int = 0
                        ) -> dict[str, Any]:
    """:func:`loyalist.response.evaluate_out_of_time` at ``as_of`` (default: the send day of
    the ``test_campaigns``-th last campaign with a complete window), after
    :func:`check_history`. A DataError when no promotion has both arms in training and test.
    """
    from loyalist.response import evaluate_out_of_time

    ts, w = check_history(store, as_of=as_of, test_campaigns=test_campaigns)
    try:
        res = evaluate_out_of_time(store, cutoff=ts, window_days=w,
                                   learner_params=EVAL_LEARNER_PARAMS, random_trials=RANDOM_TRIALS,
                                   random_state=random_state)
    except DataError as e:  # e.g. too few exposures of every promotion to learn from
        raise DataError(f"cannot evaluate the response model with the campaigns before "
                        f"{ts.date()}: {e}; load a longer promotion history, or give a later "
                        "--as-of") from None
    if "pooled" not in res:
        learned = ", ".join(sorted(res["train"]["promotions"])) or "none"
        raise DataError(f"the campaigns sent on or after {ts.date()} hold no promotion the "
                        f"model learned (learned: {learned}) with both treated and control "
                        "exposures, so there is nothing to compare; give an earlier --as-of")
    res["test_campaigns"] = int(res["test"]["campaigns"])
    res["strategies"] = {"model": "the response model's predicted incremental purchase "
                         "probability (purchase) or incremental revenue (spend), highest "
                         "first",
                         "churn_heuristic": "highest churn risk first: days since the last "
                         "purchase over the customer's usual gap between purchases",
                         "random": f"random targeting, mean of {RANDOM_TRIALS} random "
                         "orderings (random_qini_p90: the 90th percentile of their Qini)"}
    return res


def _grid(curve: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """The Qini curve (a step per group of tied scores) at the fractions ``grid``, linearly
    between its points, as the trapezoidal Qini coefficient reads it."""
    return np.interp(grid, curve["fraction"].to_numpy(), curve["qini"].to_numpy())


def qini_curves(store: Store, res: dict[str, Any], *, random_state: int = 0
                ) -> dict[str, Any]:
    """The pooled Qini curves of :func:`evaluate_promotions`'s result ``res``, for the plot:
    per outcome (purchase, spend) the incremental outcomes among the top fraction targeted by
    the model and by churn risk, the random diagonal and the 10-90% band of random
    orderings, at :data:`CURVE_POINTS` fractions; ``qini`` holds the coefficients of the
    recomputed scores (they equal ``res["pooled"]``'s: the same exposures and seed).

    The evaluation returns metrics, not scores, so the learner is fitted again here."""
    from loyalist.response import LEARNERS, build_exposures, churn_heuristic
    from loyalist.response.data import promotion_arms
    from loyalist.response.metrics import qini_coefficient, qini_curve

    ts, w = to_as_of(res["cutoff"]), int(res["window_days"])
    learner = next(k for k, c in LEARNERS.items() if c.method == res["learner"])
    train = build_exposures(store, cutoff=ts, window_days=w)
    test = build_exposures(store, cutoff=store.default_as_of(), window_days=w, sent_from=ts)
    model = LEARNERS[learner](random_state=random_state, **EVAL_LEARNER_PARAMS).fit(train)
    tf = test.frame
    parts: dict[str, list[np.ndarray]] = {}
    for promo in res["promotions"]:
        treated, control = promotion_arms(tf, promo)
        part = tf[treated | control]
        sc = model.uplift_scores(part, promo)
        for name, arr in (("t", (part[s.PROMOTION] == promo).to_numpy()),
                          ("churn", churn_heuristic(part)),
                          ("y_purchase", part["y_purchased"].to_numpy(dtype=float)),
                          ("y_spend", part["y_spend"].to_numpy(dtype=float)),
                          ("m_purchase", sc["incremental_prob"]),
                          ("m_spend", sc["incremental_revenue"])):
            parts.setdefault(name, []).append(arr)
    t = np.concatenate(parts["t"]).astype(bool)
    churn = np.concatenate(parts["churn"])
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    rng = np.random.default_rng(random_state)
    out: dict[str, Any] = {"fraction": grid.tolist(), "rows": int(len(t))}
    for outcome in ("purchase", "spend"):
        y, m = np.concatenate(parts["y_" + outcome]), np.concatenate(parts["m_" + outcome])
        rand = np.vstack([_grid(qini_curve(y, t, rng.random(len(y))), grid)
                          for _ in range(RANDOM_CURVES)])
        total = float(qini_curve(y, t, m)["qini"].iloc[-1])
        out[outcome] = {
            "model": _grid(qini_curve(y, t, m), grid).tolist(),
            "churn_heuristic": _grid(qini_curve(y, t, churn), grid).tolist(),
            "random": (grid * total).tolist(),
            "random_p10": np.quantile(rand, 0.1, axis=0).tolist(),
            "random_p90": np.quantile(rand, 0.9, axis=0).tolist(),
            "qini": {"model": qini_coefficient(y, t, m),
                     "churn_heuristic": qini_coefficient(y, t, churn)}}
    return out


# --- the card -----------------------------------------------------------------------------

UNITS = {"purchase": "purchases", "spend": "spend"}


def fmt_metric(outcome: str, key: str, v: Any) -> str:
    """A metric as a person reads it: uplift@k of purchase in percentage points, of spend in
    currency per exposure; Qini and AUUC per exposure scored."""
    if v is None or not np.isfinite(v):
        return "n/a"
    if key.startswith("uplift_at_") or key == "observed_uplift":
        return f"{100 * v:+.1f}" if outcome == "purchase" else f"{v:+,.2f}"
    return f"{v:.4f}" if outcome == "purchase" else f"{v:,.2f}"


def metric_rows(rep: dict[str, Any], outcome: str, *, p90: bool = True) -> list[list[str]]:
    """Rows ``targeting, Qini, AUUC, uplift@10%, uplift@30%`` of one uplift report (model,
    churn-first, random; with ``p90``, random's label gives its Qini p90)."""
    rows = []
    for key, label in STRATEGIES.items():
        r = rep.get(key) or {}
        if key == "random" and p90:
            label = f"random (p90 Qini {fmt_metric(outcome, 'qini', rep.get('random_qini_p90'))})"
        rows.append([label, *[fmt_metric(outcome, k, r.get(k))
                              for k in ("qini", "auuc", "uplift_at_10", "uplift_at_30")]])
    return rows


METRIC_HEAD = ["targeting", "Qini", "AUUC", "uplift@10%", "uplift@30%"]
#: the unit of uplift@k (and of the observed uplift) per outcome
UPLIFT_UNIT = {"purchase": "percentage points", "spend": "spend per exposure"}


def _head(outcome: str) -> list[str]:
    unit = " (pp)" if outcome == "purchase" else ""
    return [f"{h}{unit}" if h.startswith("uplift@") else h for h in METRIC_HEAD]


def _qini_png(curves: dict[str, Any]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # plotting only: import late
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2))
    FigureCanvasAgg(fig)
    x = np.asarray(curves["fraction"]) * 100
    for ax, outcome in zip(fig.subplots(1, 2), ("purchase", "spend"), strict=True):
        c = curves[outcome]
        ax.fill_between(x, c["random_p10"], c["random_p90"], color="grey", alpha=0.2,
                        label="random, 10-90% of orderings")
        ax.plot(x, c["random"], ls="--", color="grey", label="random (expected)")
        ax.plot(x, c["model"], label=f"model (Qini {c['qini']['model']:.3g})")
        ax.plot(x, c["churn_heuristic"],
                label=f"highest churn risk first (Qini {c['qini']['churn_heuristic']:.3g})")
        ax.set_xlabel("exposures targeted, % (highest score first)")
        ax.set_ylabel(f"incremental {UNITS[outcome]} among them")
        ax.set_title(f"Qini curve, {outcome} (pooled test campaigns)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


CSS = ("body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;color:#222}"
       "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
       "padding:.3rem .6rem;text-align:right}td:first-child,th:first-child{text-align:left}"
       "img{max-width:100%}")


def _blocks(res: dict[str, Any]) -> list[tuple[str, Any]]:
    tr, te, w = res["train"], res["test"], res["window_days"]
    b: list[tuple[str, Any]] = [
        ("h1", "Loyalist promotion response model: out-of-time evaluation"),
        ("p", f"loyalist {__version__}; learner {res['learner']}; response window {w} days; "
              f"cutoff {res['cutoff']}; data end {res['end']}."),
        ("p", f"Trained on {tr['exposures']:,} exposures ({tr['control']:,} control) of "
              f"{tr['campaigns']} campaigns whose {w}-day window closed by {res['cutoff']}; "
              f"tested on the {te['campaigns']} later campaigns ({te['exposures']:,} exposures, "
              f"{te['control']:,} control, windows closed by {res['end']}), each exposure "
              "scored with the customer's features at its send day. Per promotion the test "
              "set is its treated exposures and the control exposures of the same campaigns; "
              "pooled stacks them."),
        ("h2", "How to read it"),
        ("ul", [
            "Targeting orders: model = the predicted incremental purchase probability "
            "(purchase) or incremental revenue (spend), highest first; churn-first = highest "
            "churn risk first (days since the last purchase over the usual gap); random = "
            "the mean of random orderings, with the 90th percentile of their Qini (how far "
            "luck alone goes on this test set).",
            "Qini coefficient: the area between the order's Qini curve (incremental outcomes "
            "among the top fraction targeted: treated outcomes minus control outcomes scaled "
            "to the treated count, divided by the exposures scored) and random targeting's "
            "diagonal, over the fraction targeted; 0 for random in expectation, higher is "
            "better, in purchases (or currency) per exposure.",
            "AUUC: the area under the uplift curve (treated minus control mean outcome among "
            "the top k, times k, per exposure scored).",
            "uplift@10% / @30%: treated minus control mean outcome among the top 10% / 30% "
            "of exposures by the order (purchase: percentage points; spend: currency per "
            "exposure).",
        ]),
    ]
    for outcome in ("purchase", "spend"):
        rep = res["pooled"][outcome]
        b.append(("h2", f"Pooled: {outcome} in the {w}-day window"))
        b.append(("p", f"{rep['n_treated']:,} treated and {rep['n_control']:,} control "
                       "exposures; observed uplift (treated minus control mean) "
                       f"{fmt_metric(outcome, 'observed_uplift', rep['observed_uplift'])} "
                       f"{UPLIFT_UNIT[outcome]}."))
        b.append(("table", (_head(outcome), metric_rows(rep, outcome))))
    if res.get("curves"):
        b.append(("img", "qini_curves.png"))
    for outcome in ("purchase", "spend"):
        b.append(("h2", f"Per promotion: {outcome}"))
        body = []
        for promo, r in res["promotions"].items():
            rep = r[outcome]
            for i, row in enumerate(metric_rows(rep, outcome)):
                arms = [promo, f"{rep['n_treated']:,}", f"{rep['n_control']:,}"] if i == 0 \
                    else ["", "", ""]
                body.append([*arms, *row])
        b.append(("table", (["promotion", "treated", "control", *_head(outcome)], body)))
    notes = [f"{p}: not learned ({why})" for p, why in (res.get("skipped") or {}).items()]
    notes += [n for n in (*tr.get("notes", []), *te.get("notes", []))]
    if notes:
        b.append(("h2", "Notes"))
        b.append(("ul", notes))
    return b


def write_promotion_card(res: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``promotion_card.md``, ``promotion_card.html`` (self-contained: the plot is
    embedded), ``promotion_evaluation.json`` and, when ``res`` has ``curves``,
    ``qini_curves.png`` into ``out_dir``; return their paths by kind."""
    png = _qini_png(res["curves"]) if res.get("curves") else None
    return write_card(out_dir, _blocks(res), {"qini_curves.png": png} if png else {},
                      title="Loyalist promotion response evaluation", stem="promotion_card",
                      data=("json", "promotion_evaluation.json", res), css=CSS)
