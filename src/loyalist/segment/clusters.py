"""Behavioural clusters: k-means on scaled log features, k chosen by silhouette, clusters named
from their profiles, outliers (e.g. wholesalers) flagged and kept out of the fit.

1. **Outliers**: the modified z-score ``0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin 1993)
   of ``log1p(monetary_total)`` and of ``log1p(items_total)``; a customer above
   ``outlier_z`` (default 3.5) on either is flagged, gets cluster ``-1`` and the name
   "outliers: very high spend or volume" and does not move the centres. Outliers are rare by
   definition: when the median and MAD come from a large low-spend majority, a whole
   high-spend group can exceed the limit, so at most ``max_outlier_share`` (default 2%) of the
   customers, the most extreme, are flagged (the limit is raised to match).
2. **k-means** (Lloyd, k-means++ starts, ``n_init`` restarts, ``random_state``) on
   ``log1p`` of recency, orders, monetary value and tenure, standardised on the customers fitted.
3. **k** maximises the mean silhouette (Rousseeuw 1987) over ``k_range``; the Davies-Bouldin
   index (Davies & Bouldin 1979; lower is better) and the inertia are reported next to it in
   ``selection_``. Silhouettes use a fixed random sample of at most ``silhouette_sample`` rows.
4. **Order and names**: clusters are numbered by median spend, highest first, and named from
   their medians against the whole population: recency ("active" / "cooling" / "lapsed"),
   value ("high-value" / "mid-value" / "low-value"), frequency ("frequent" / "repeat" /
   "one-timers") and "new" for short tenure, e.g. "active high-value frequent",
   "lapsed low-value one-timers". Names are made unique with a number if two collide.
"""

from __future__ import annotations

import os

# scikit-learn's k-means runs on OpenMP; LightGBM (used later in the same process by the churn
# and CLV models) stalls after that OpenMP work unless threads wait passively. The variable is
# read when the OpenMP runtime loads, so it is set before scikit-learn is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import davies_bouldin_score, silhouette_score  # noqa: E402

from loyalist import schema as s  # noqa: E402
from loyalist.errors import (  # noqa: E402
    DataError,
    NotFittedError,
    ParameterError,
    is_whole_number,
)

__all__ = ["CustomerClusters", "OUTLIER_NAME", "robust_z"]

OUTLIER_NAME = "outliers: very high spend or volume"
COLUMNS = {"recency": "recency_days", "frequency": "orders", "monetary": "monetary_total",
           "tenure": "tenure_days"}


def robust_z(x: Any) -> np.ndarray:
    """Modified z-score ``0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin 1993); 0 if MAD=0."""
    v = np.asarray(x, dtype=float)
    med = np.median(v)
    mad = np.median(np.abs(v - med))
    if mad == 0:
        return np.zeros_like(v)
    return 0.6745 * (v - med) / mad


class CustomerClusters:
    """k-means customer clusters with k chosen by silhouette and profile-based names.

    Parameters
    ----------
    k_range:
        Candidate numbers of clusters, inclusive (default ``(2, 8)``).
    outlier_z:
        Modified z-score above which a customer is an outlier (``None`` disables).
    max_outlier_share:
        At most this share of customers (the most extreme) is flagged.
    n_init, random_state:
        k-means restarts and seed (results are deterministic for a given seed).
    silhouette_sample:
        At most this many rows (a fixed random sample) enter each silhouette.

    Learned attributes: ``k_``, ``centers_`` (scaled space), ``mean_``, ``scale_``,
    ``selection_`` (frame: k, silhouette, davies_bouldin, inertia), ``names_`` ({id: name}),
    ``profile_`` (medians per cluster), ``outlier_center_`` ({column: (median, MAD)} of the
    logs), ``outlier_limit_`` (on the modified z-score), ``n_outliers_``, ``population_``.
    """

    def __init__(self, *, k_range: tuple[int, int] = (2, 8), outlier_z: float | None = 3.5,
                 max_outlier_share: float = 0.02, n_init: int = 4, random_state: int = 0,
                 silhouette_sample: int = 4000) -> None:
        self.k_range = k_range
        self.outlier_z = outlier_z
        self.max_outlier_share = max_outlier_share
        self.n_init = n_init
        self.random_state = random_state
        self.silhouette_sample = silhouette_sample

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _raw(frame: pd.DataFrame) -> pd.DataFrame:
        need = [s.CUSTOMER_ID, *COLUMNS.values(), "items_total"]
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise DataError(f"clusters: columns {missing} are missing from the customer frame;"
                            " compute it with loyalist.features.customer_features")
        raw = frame[need].reset_index(drop=True)
        for col in need[1:]:
            values = pd.to_numeric(raw[col], errors="coerce")
            bad = values.isna() & raw[col].notna()
            if bad.any():
                raise DataError(
                    f"clusters: column {col} (dtype {raw[col].dtype}): {int(bad.sum()):,} of "
                    f"{len(raw):,} values are not numbers, e.g. {raw.loc[bad, col].iloc[0]!r} for "
                    f"{s.CUSTOMER_ID} {raw.loc[bad, s.CUSTOMER_ID].iloc[0]}; pass numbers, as "
                    "loyalist.features.customer_features computes them")
            missing_value = values.isna()
            if missing_value.any():
                raise DataError(
                    f"clusters: {int(missing_value.sum()):,} of {len(raw):,} customers have no "
                    f"{col} value (NaN), e.g. {s.CUSTOMER_ID} "
                    f"{raw.loc[missing_value, s.CUSTOMER_ID].iloc[0]}; drop or fill those rows "
                    "first")
            raw[col] = values.astype(float)
        return raw

    @staticmethod
    def _logs(raw: pd.DataFrame) -> np.ndarray:
        x = raw[list(COLUMNS.values())].to_numpy(dtype=float)
        return np.log1p(np.maximum(x, 0.0))

    def _outlier_score(self, raw: pd.DataFrame) -> np.ndarray:
        """Max over monetary and items of the modified z-score of the log, with fitted
        medians and MADs (0 where a MAD is 0)."""
        score = np.zeros(len(raw))
        for col, (med, mad) in self.outlier_center_.items():
            if mad > 0:
                v = np.log1p(np.maximum(raw[col].to_numpy(dtype=float), 0))
                score = np.maximum(score, 0.6745 * (v - med) / mad)
        return score

    def _outliers(self, raw: pd.DataFrame) -> np.ndarray:
        if self.outlier_limit_ is None:
            return np.zeros(len(raw), dtype=bool)
        return self._outlier_score(raw) > self.outlier_limit_

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> CustomerClusters:
        """Flag outliers, choose k by silhouette, fit k-means, order and name the clusters."""
        lo, hi = self.k_range
        if not (is_whole_number(lo) and is_whole_number(hi) and 2 <= lo <= hi):
            raise ParameterError(f"k_range {self.k_range!r}: use two integers 2 <= lo <= hi")
        if not 0 <= self.max_outlier_share < 0.5:
            raise ParameterError(f"max_outlier_share {self.max_outlier_share!r}: use a share "
                                 "in [0, 0.5)")
        raw = self._raw(frame)
        self.outlier_center_: dict[str, tuple[float, float]] = {}
        for col in ("monetary_total", "items_total"):
            v = np.log1p(np.maximum(raw[col].to_numpy(dtype=float), 0))
            med = float(np.median(v))
            self.outlier_center_[col] = (med, float(np.median(np.abs(v - med))))
        self.outlier_limit_: float | None = None
        if self.outlier_z is not None:
            score = self._outlier_score(raw)
            cap = int(np.floor(self.max_outlier_share * len(raw)))
            limit = float(self.outlier_z)
            if (score > limit).sum() > cap:  # keep only the ``cap`` most extreme
                limit = float(np.sort(score)[::-1][cap]) if cap < len(score) else limit
            self.outlier_limit_ = limit
        out = self._outliers(raw)
        inl = raw[~out]
        n = len(inl)
        if n < lo + 2:
            raise DataError(f"clusters: {n} customers (after {int(out.sum())} outliers) are "
                            f"too few for {lo} clusters; need at least {lo + 2}")
        logs = self._logs(inl)
        self.mean_ = logs.mean(axis=0)
        self.scale_ = logs.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        z = (logs - self.mean_) / self.scale_
        rng = np.random.default_rng(self.random_state)
        sample = (rng.choice(n, size=self.silhouette_sample, replace=False)
                  if n > self.silhouette_sample else np.arange(n))
        rows, fits = [], {}
        for k in range(lo, min(hi, n - 1) + 1):
            km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
            lab = km.fit_predict(z)
            if len(np.unique(lab)) < 2:
                continue
            sil = (silhouette_score(z[sample], lab[sample])
                   if len(np.unique(lab[sample])) > 1 else float("nan"))
            rows.append({"k": k, "silhouette": float(sil),
                         "davies_bouldin": float(davies_bouldin_score(z, lab)),
                         "inertia": float(km.inertia_)})
            fits[k] = km
        if not rows:
            raise DataError("clusters: every candidate k collapsed to one cluster; the "
                            "customers are (nearly) identical on recency, orders and spend")
        sel = pd.DataFrame(rows)
        best = int(sel.loc[sel["silhouette"].fillna(-1).idxmax(), "k"])
        sel["chosen"] = sel["k"] == best
        self.selection_ = sel
        km = fits[best]
        # order clusters by median spend, highest first (ties: by median orders, then index)
        lab = km.labels_
        med = pd.DataFrame({"c": lab, "m": inl["monetary_total"].to_numpy(),
                            "f": inl["orders"].to_numpy()}).groupby("c").median()
        order = sorted(med.index, key=lambda c: (-med.loc[c, "m"], -med.loc[c, "f"], c))
        self.centers_ = km.cluster_centers_[order]
        self.k_ = best
        relabel = np.empty(best, dtype=int)
        relabel[order] = np.arange(best)
        labels = relabel[lab]
        self.population_ = {
            "recency_days": np.quantile(raw["recency_days"], [0.35, 0.65]).tolist(),
            "monetary_total": np.quantile(raw["monetary_total"], [0.35, 0.75]).tolist(),
            "orders": float(np.quantile(raw["orders"], 0.75)),
            "tenure_days": float(np.quantile(raw["tenure_days"], 0.25)),
        }
        prof = inl.assign(cluster=labels).groupby("cluster")[list(COLUMNS.values())].median()
        self.profile_ = prof
        self.names_ = self._name(prof)
        self.n_outliers_ = int(out.sum())
        return self

    def _name(self, prof: pd.DataFrame) -> dict[int, str]:
        pop = self.population_
        names: dict[int, str] = {}
        for c, row in prof.iterrows():
            r_lo, r_hi = pop["recency_days"]
            rec = ("active" if row["recency_days"] <= r_lo
                   else "lapsed" if row["recency_days"] >= r_hi else "cooling")
            m_lo, m_hi = pop["monetary_total"]
            val = ("high-value" if row["monetary_total"] >= m_hi
                   else "low-value" if row["monetary_total"] <= m_lo else "mid-value")
            freq = ("one-timers" if row["orders"] <= 1
                    else "frequent" if row["orders"] >= max(pop["orders"], 2) else "repeat")
            new = "new " if row["tenure_days"] <= pop["tenure_days"] else ""
            names[int(c)] = f"{rec} {new}{val} {freq}"
        seen: dict[str, int] = {}
        for c in sorted(names):
            base = names[c]
            seen[base] = seen.get(base, 0) + 1
            if seen[base] > 1:
                names[c] = f"{base} ({seen[base]})"
        return names

    # -- predict --------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "centers_"):
            raise NotFittedError("this CustomerClusters is not fitted yet; call fit(frame) "
                                 "first")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Cluster per customer: the nearest centre, or -1 for an outlier."""
        self._check_fitted()
        raw = self._raw(frame)
        z = (self._logs(raw) - self.mean_) / self.scale_
        d = ((z[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2)
        lab = d.argmin(axis=1)
        lab[self._outliers(raw)] = -1
        return lab

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, cluster, cluster_name, outlier``."""
        lab = self.predict(frame)
        names = np.array([OUTLIER_NAME if c < 0 else self.names_[int(c)] for c in lab],
                         dtype=object)
        return pd.DataFrame({s.CUSTOMER_ID: frame[s.CUSTOMER_ID].to_numpy(), "cluster": lab,
                             "cluster_name": names, "outlier": lab < 0})

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)
