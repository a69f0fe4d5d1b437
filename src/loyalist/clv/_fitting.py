"""Shared machinery of the probabilistic CLV models.

Input validation (one customer per row), compression of identical rows into weighted unique
rows, the L-BFGS-B driver over log-parameters with its diagnostics, and the common estimator
base class (fitted check, ``to_dict`` / ``from_dict``).

Nothing here knows a model's formulas: each model module passes its negative log-likelihood
and gradient in.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeResult, minimize

from loyalist.errors import DataError, ModelVersionError, NotFittedError, ParameterError

logger = logging.getLogger(__name__)


class _DemoteToInfo(logging.Filter):
    """Turn the probabilistic fits' 'estimates are unreliable' warnings into INFO records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            record.levelno, record.levelname = logging.INFO, "INFO"
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


@contextlib.contextmanager
def fit_warnings_as_info() -> Iterator[None]:
    """The fits' warnings as INFO records while inside: where a fit is a baseline or a feature
    (training's customer models, the response model's P(alive) at every send day), its
    diagnostics go to notes instead of a wall of warnings."""
    fit_log = logging.getLogger(__name__)
    demote = _DemoteToInfo()
    fit_log.addFilter(demote)
    try:
        yield
    finally:
        fit_log.removeFilter(demote)

FORMAT = "loyalist.clv/1"

# Log-parameters live in [LOG_LOWER, LOG_UPPER] during optimisation (about 1e-9 .. 1e9). A fit
# that ends on one of these walls has no interior maximum: the data do not identify the model.
LOG_LOWER = float(np.log(1e-9))
LOG_UPPER = float(np.log(1e9))
_WALL = 0.5  # within this distance (in log units) of a wall counts as "on the wall"


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Columns:
    """Validated float columns plus the pandas index of the input (if any was a Series)."""

    values: dict[str, np.ndarray]
    index: pd.Index | None
    n: int
    scalar: bool = False  # every input was a plain scalar

    def example(self, mask: np.ndarray) -> str:
        """A human label for the first row where ``mask`` is true ("index 17" / "row 3")."""
        pos = int(np.flatnonzero(mask)[0])
        if self.index is not None:
            return f"index {self.index[pos]!r}"
        return f"row {pos}"


def _count(k: int, n: int) -> str:
    return f"{k:,} of {n:,} customers ({100.0 * k / n:.3g}%)"


def as_columns(
    named: Sequence[tuple[str, Any]],
    *,
    integer: Sequence[str] = (),
    positive: Sequence[str] = (),
) -> Columns:
    """Turn array-likes into validated float64 1-D arrays of one common length.

    Raises :class:`DataError` naming the argument, the rule, the count and an example row for:
    non-numeric, not 1-D, empty, mismatched lengths, NaN/inf, negative values, non-integer values
    (for the ``integer`` names) and non-positive values (for the ``positive`` names).
    """
    index: pd.Index | None = None
    arrays: dict[str, np.ndarray] = {}
    scalar = True
    for name, value in named:
        if isinstance(value, pd.Series) and index is None:
            index = value.index
        if isinstance(value, pd.DataFrame):
            # `rfm.T` is pandas' transpose, not the column T: lifetimes' users write it first
            hint = (f"; `frame.{name}` is pandas' transpose of the frame: write "
                    f"frame[{name!r}]" if name == "T" and "T" in value.index else "")
            raise DataError(f"{name}: expected one column (array or Series), got a "
                            f"DataFrame{hint}")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name}: values must be numeric ({exc})") from exc
        if arr.ndim == 0:
            arr = arr.reshape(1)
        else:
            scalar = False
        if arr.ndim != 1:
            raise DataError(f"{name}: expected a 1-D array (one value per customer), got shape "
                            f"{arr.shape}")
        arrays[name] = arr
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v:,}" for k, v in lengths.items())
        raise DataError(f"inputs have different lengths ({detail}); pass one value per customer "
                        "in every column")
    n = next(iter(lengths.values()))
    if n == 0:
        raise DataError("no customers: the inputs are empty")
    if index is not None and len(index) != n:
        index = None
    cols = Columns(arrays, index, n, scalar)
    for name, arr in arrays.items():
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(f"{name}: {_count(int(bad.sum()), n)} are NaN or infinite, e.g. "
                            f"{cols.example(bad)}; drop or fill them before fitting/scoring")
        bad = arr < 0
        if bad.any():
            raise DataError(f"{name}: {_count(int(bad.sum()), n)} are negative, e.g. "
                            f"{cols.example(bad)} ({name}={arr[bad][0]:g}); it must be >= 0")
        if name in integer:
            bad = arr != np.round(arr)
            if bad.any():
                raise DataError(f"{name}: {_count(int(bad.sum()), n)} are not whole numbers, "
                                f"e.g. {cols.example(bad)} ({name}={arr[bad][0]:g}); it counts "
                                "repeat purchases")
        if name in positive:
            bad = arr <= 0
            if bad.any():
                raise DataError(f"{name}: {_count(int(bad.sum()), n)} are <= 0, e.g. "
                                f"{cols.example(bad)}; it must be > 0")
    return cols


def validate_rfm(frequency: Any, recency: Any, T: Any) -> Columns:
    """Validate (frequency, recency, T) per customer: the input of BG/NBD and Pareto/NBD.

    Rules: numeric, finite, >= 0, equal lengths; frequency whole; recency <= T; recency == 0
    when frequency == 0 (no repeat purchase means the last purchase is the first one).
    """
    cols = as_columns(
        [("frequency", frequency), ("recency", recency), ("T", T)], integer=("frequency",)
    )
    x, tx, t = cols.values["frequency"], cols.values["recency"], cols.values["T"]
    bad = tx > t + 1e-9 * np.maximum(1.0, t)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"recency > T for {_count(int(bad.sum()), cols.n)}, e.g. {cols.example(bad)} "
            f"(recency={tx[pos]:g}, T={t[pos]:g}); recency (last minus first purchase) cannot "
            "exceed T (calibration end minus first purchase). Check the calibration end date "
            "and that both use the same time unit."
        )
    bad = (x == 0) & (tx > 0)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"frequency is 0 but recency > 0 for {_count(int(bad.sum()), cols.n)}, e.g. "
            f"{cols.example(bad)} (recency={tx[pos]:g}); a customer without repeat purchases "
            "has recency 0. Check that frequency counts repeat purchases (total - 1)."
        )
    return cols


def as_times(t: Any, name: str = "t") -> np.ndarray:
    """A scalar or array of prediction horizons: finite and >= 0."""
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name}: must be finite, got {t!r}")
    if np.any(arr < 0):
        raise ParameterError(f"{name}: must be >= 0, got {t!r}")
    return arr


def wrap(values: np.ndarray, cols: Columns, name: str) -> Any:
    """A Series on the input's index when an input was a Series, a float when every input was a
    scalar, else the array."""
    if cols.scalar and values.ndim == 1 and len(values) == 1:
        return float(values[0])
    if cols.index is not None and values.ndim == 1 and len(values) == cols.n:
        return pd.Series(values, index=cols.index, name=name)
    return values


# --------------------------------------------------------------------------------------------
# Compression
# --------------------------------------------------------------------------------------------
def factorize(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct rows of ``columns`` (hash-based, O(n)), and one row per code.

    Returns ``(codes, representative)``: ``codes[i]`` numbers row ``i``'s distinct tuple and
    ``representative[k]`` is the position of one row holding tuple ``k``.
    """
    codes: np.ndarray | None = None
    for col in columns:
        c, uniques = pd.factorize(np.asarray(col), sort=False)
        c = c.astype(np.int64, copy=False)
        if codes is None:
            codes = c
        else:
            codes, _ = pd.factorize(codes * len(uniques) + c, sort=False)
            codes = codes.astype(np.int64, copy=False)
    assert codes is not None
    k = int(codes.max()) + 1 if len(codes) else 0
    representative = np.empty(k, dtype=np.int64)
    representative[codes] = np.arange(len(codes), dtype=np.int64)
    return codes, representative


@dataclass(frozen=True)
class Compressed:
    """Unique rows with their counts: the weighted data the likelihood is summed over."""

    columns: dict[str, np.ndarray]
    weights: np.ndarray
    n_rows: int

    @property
    def n_unique(self) -> int:
        return len(self.weights)


def compress(columns: dict[str, np.ndarray]) -> Compressed:
    """Collapse identical rows: fitting on K unique rows with counts equals fitting on N rows."""
    arrays = list(columns.values())
    codes, rep = factorize(*arrays)
    weights = np.bincount(codes, minlength=len(rep)).astype(np.float64)
    unique = {name: arr[rep] for name, arr in columns.items()}
    return Compressed(unique, weights, len(codes))


# --------------------------------------------------------------------------------------------
# Optimiser driver
# --------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()


def single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Run BLAS on one thread for the duration of a fit.

    A fit makes thousands of tiny BLAS calls (L-BFGS-B's 4x4 algebra, dot products of the
    weighted sums); a multi-threaded OpenBLAS wakes its worker threads for each, which on a busy
    machine costs up to ~1 ms per call (measured: setulb 1.2 ms vs 4 us per call). The limit is
    process-wide while it lasts. Costs ~10 us; a no-op without threadpoolctl.
    """
    controller = _blas_controller()
    if controller is None:  # pragma: no cover
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def blas_single_thread(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``method`` under :func:`single_threaded_blas`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_threaded_blas():
            return method(*args, **kwargs)

    return wrapper


@dataclass
class OptimResult:
    theta: np.ndarray
    nll: float  # mean negative log-likelihood incl. penalty at theta
    n_iter: int
    n_eval: int
    converged: bool
    diagnostics: list[str] = field(default_factory=list)
    hessian: np.ndarray | None = None  # of the mean objective, when computed


def minimize_nll(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    *,
    names: Sequence[str],
    tol: float,
    max_iter: int,
    n_obs: float,
    lower: np.ndarray | None = None,
    check_information: bool = True,
    hessian0: np.ndarray | None = None,
) -> OptimResult:
    """Minimise a mean negative log-likelihood over log-parameters with L-BFGS-B.

    ``fun`` returns (value, gradient) of the mean over ``n_obs`` customers. Convergence:
    scipy's own criteria (projected gradient <= ``tol``, or relative decrease <= 1e-13) with a
    gradient that is actually small, or a line search that cannot improve further while the
    gradient is already small (normal at double-precision round-off). Afterwards two checks
    for estimates the data do not determine, both reported as not converged:

    - a log-parameter on a bound of the box: the maximum is at 0 or infinity;
    - the observed information (Hessian of the total negative log-likelihood in
      log-parameters, by forward differences of the gradient) has an eigenvalue < 0.1: along
      that direction the log-likelihood changes by less than 0.05 per unit of log-parameter,
      i.e. a standard error above a factor e^3 ~ 20.

    ``hessian0`` (the mean objective's Hessian near ``theta0``, e.g. from a fit on a subset)
    enables Newton steps with that fixed matrix first; when they reach the gradient tolerance
    L-BFGS-B is not needed. From a warm start this takes a handful of evaluations where
    L-BFGS-B, which has to learn the curvature again, takes about twenty.
    """
    lo = np.full(len(theta0), LOG_LOWER) if lower is None else np.asarray(lower, dtype=float)
    bounds = [(float(a), LOG_UPPER) for a in lo]
    theta0 = np.clip(theta0, lo + 1.0, LOG_UPPER - 1.0)
    n_eval = 0

    def counted(theta: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal n_eval
        n_eval += 1
        value, grad = fun(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            # Steer the line search back instead of crashing; L-BFGS-B shortens the step.
            return 1e300, np.zeros_like(theta)
        return value, grad

    newton_steps, done = 0, False
    if hessian0 is not None:
        theta0, newton_steps, done, value, grad = _newton(counted, theta0, hessian0, lo, tol,
                                                          max_iter)
    if done:
        res = OptimizeResult(x=theta0, success=True, status=0, nit=newton_steps,
                             message="Newton steps reached the gradient tolerance")
    else:
        with single_threaded_blas():
            res = minimize(
                counted, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                options={"maxiter": int(max_iter), "gtol": float(tol), "ftol": 1e-13,
                         "maxcor": 20},
            )
        res.nit += newton_steps
        value, grad = fun(np.asarray(res.x, dtype=float))
    theta = np.asarray(res.x, dtype=float)
    on_lower = theta <= lo + _WALL
    on_upper = theta >= LOG_UPPER - _WALL
    projected = np.where((on_lower & (grad > 0)) | (on_upper & (grad < 0)), 0.0, grad)
    gmax = float(np.max(np.abs(projected))) if len(projected) else 0.0
    small = max(1e3 * tol, 1e-5)
    diags: list[str] = []
    message = res.message if isinstance(res.message, str) else str(res.message)
    if res.status == 1:  # iteration limit
        converged = False
        diags.append(f"optimiser stopped at max_iter={max_iter} before converging "
                     f"(max |gradient| {gmax:.2g}); raise max_iter or check the data")
    elif gmax <= small and np.isfinite(value):
        converged = True
        how = "Newton steps" if message.startswith("Newton") else "L-BFGS-B"
        diags.append(f"{how} converged in {res.nit} iterations, {n_eval} evaluations "
                     f"(max |gradient| {gmax:.1e})")
    else:
        converged = False
        diags.append(f"optimiser stopped without a stationary point: {message.strip()} "
                     f"(max |gradient| {gmax:.2g} after {res.nit} iterations)")
    if not np.isfinite(value):
        diags.append("log-likelihood is not finite at the estimate")
    for i, name in enumerate(names):
        if on_lower[i] or on_upper[i]:
            converged = False
            side = "lower" if on_lower[i] else "upper"
            diags.append(f"parameter {name} ran to its {side} limit ({np.exp(theta[i]):.3g}): "
                         "the likelihood has no interior maximum, so the data do not identify "
                         "it; treat the estimates as unreliable")
    free = ~(on_lower | on_upper)
    hessian = None
    if check_information and free.sum() > 0 and np.isfinite(value):
        with single_threaded_blas():
            # After Newton steps with the warm start's curvature, that curvature (scaled to
            # n_obs) stands in for the full-data one, saving one evaluation per parameter.
            hessian = hessian0 if done and hessian0 is not None else (
                _information(fun, theta, grad, n_obs) / n_obs)
            info = (hessian * n_obs)[np.ix_(free, free)]
            finite = bool(np.all(np.isfinite(info)))
            eigval, eigvec = np.linalg.eigh(info) if finite else (None, None)
        if eigval is not None and eigvec is not None:
            if eigval[0] < 0.1:
                converged = False
                idx = np.flatnonzero(free)
                weights = np.abs(eigvec[:, 0])
                involved = [names[idx[j]] for j in np.argsort(-weights) if weights[j] > 0.3]
                diags.append(
                    f"the log-likelihood is nearly flat along a direction mixing "
                    f"{', '.join(involved)} (curvature {eigval[0]:.2g} in log-parameters): the "
                    "data do not pin these parameters down; treat them as unreliable (more "
                    "customers, a longer calibration period or a penalizer help)"
                )
    return OptimResult(theta, float(value), int(res.nit), n_eval, converged, diags, hessian)


def _newton(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray,
            hessian: np.ndarray, lower: np.ndarray, tol: float, max_steps: int
            ) -> tuple[np.ndarray, int, bool, float, np.ndarray]:
    """Damped Newton steps with a fixed Hessian (clipped to be positive definite) inside the
    box; returns (theta, steps, reached the gradient tolerance, value, gradient)."""
    value, grad = fun(theta)
    if not np.all(np.isfinite(hessian)):
        return theta, 0, False, value, grad
    with single_threaded_blas():
        vals, vecs = np.linalg.eigh(0.5 * (hessian + hessian.T))
    floor = max(float(vals.max()) * 1e-8, 1e-12)
    inverse = (vecs / np.maximum(vals, floor)) @ vecs.T
    steps = min(max_steps, 50)
    for step_no in range(steps):
        if float(np.max(np.abs(grad))) <= tol:
            return theta, step_no, True, value, grad
        direction = -inverse @ grad
        slope = float(grad @ direction)
        t = 1.0
        for _ in range(30):
            cand = np.clip(theta + t * direction, lower, LOG_UPPER)
            new_value, new_grad = fun(cand)
            if new_value <= value + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            return theta, step_no, False, value, grad
        theta, value, grad = cand, new_value, new_grad
    return theta, steps, bool(np.max(np.abs(grad)) <= tol), value, grad


def _information(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], theta: np.ndarray,
                 grad: np.ndarray, n_obs: float, step: float = 1e-5) -> np.ndarray:
    """Observed information in log-parameters: forward differences of the analytic gradient of
    the mean NLL, symmetrised and scaled to the total over ``n_obs`` customers."""
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        shifted = theta.copy()
        shifted[i] += step
        hess[:, i] = (fun(shifted)[1] - grad) / step
    return 0.5 * (hess + hess.T) * n_obs


def skipped(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], theta0: np.ndarray,
            reason: str) -> OptimResult:
    """A non-result for data with a flat likelihood: the start point, not converged."""
    value, _ = fun(theta0)
    return OptimResult(np.asarray(theta0, dtype=float), float(value), 0, 1, False,
                       [f"optimiser not run: {reason}"])


# --------------------------------------------------------------------------------------------
# Estimator base
# --------------------------------------------------------------------------------------------
class ProbabilisticModel:
    """scikit-learn style base: stored hyper-parameters, learned state ending in ``_``."""

    _param_names: ClassVar[tuple[str, ...]] = ()
    _init_names: ClassVar[tuple[str, ...]] = ()

    params_: dict[str, float]
    log_likelihood_: float | None
    n_customers_: int | None
    converged_: bool | None
    n_iter_: int | None
    diagnostics_: list[str]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` arguments (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._init_names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            name = type(self).__name__
            raise NotFittedError(f"{name} is not fitted yet: call fit(...) first, or load saved "
                                 f"parameters with {name}.from_dict(...)")

    def _p(self) -> np.ndarray:
        """The fitted parameters as an array, in the papers' order (``_param_names``)."""
        self._check_fitted()
        return np.array([self.params_[k] for k in self._param_names])

    @staticmethod
    def _rfm(frequency: Any, recency: Any, T: Any
             ) -> tuple[Columns, np.ndarray, np.ndarray, np.ndarray]:
        """Validated (frequency, recency, T) columns and their arrays."""
        cols = validate_rfm(frequency, recency, T)
        return cols, cols.values["frequency"], cols.values["recency"], cols.values["T"]

    def _store_fit(self, params: dict[str, float], ll: float, n: int, result: OptimResult,
                   notes: list[str]) -> None:
        self.params_ = {k: float(v) for k, v in params.items()}
        self.log_likelihood_ = float(ll)
        self.n_customers_ = int(n)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.diagnostics_ = [*notes, *result.diagnostics]
        for note in self.diagnostics_:
            logger.info("%s: %s", type(self).__name__, note)
        if not self.converged_:
            logger.warning("%s: estimates are unreliable: %s", type(self).__name__,
                           "; ".join(self.diagnostics_[1:]))

    def to_dict(self) -> dict[str, Any]:
        """Parameters and fit summary as plain JSON-serialisable data."""
        self._check_fitted()
        from loyalist import __version__

        return {
            "format": FORMAT,
            "model": type(self).__name__,
            "loyalist_version": __version__,
            "init": self.get_params(),
            "params": dict(self.params_),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "n_iter": self.n_iter_,
            "diagnostics": list(self.diagnostics_),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Rebuild a fitted model from :meth:`to_dict` output (or ``{"params": {...}}``)."""
        if not isinstance(data, dict) or "params" not in data:
            raise ParameterError(f"{cls.__name__}.from_dict: expected a dict with a 'params' "
                                 "entry, as written by to_dict()")
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            raise ModelVersionError(f"{cls.__name__}.from_dict: saved format {fmt!r} is not "
                                    f"supported (this version reads {FORMAT!r}); refit the model")
        model_name = data.get("model", cls.__name__)
        if model_name != cls.__name__:
            raise ParameterError(f"{cls.__name__}.from_dict: the saved model is a {model_name}; "
                                 f"load it with {model_name}.from_dict")
        params = data["params"]
        missing = [p for p in cls._param_names if p not in params]
        if missing:
            raise ParameterError(f"{cls.__name__}.from_dict: params lack {missing}; expected "
                                 f"{list(cls._param_names)}")
        values = {p: float(params[p]) for p in cls._param_names}
        bad = [p for p, v in values.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ParameterError(f"{cls.__name__}.from_dict: params {bad} must be finite and "
                                 f"> 0, got {[values[p] for p in bad]}")
        init = dict(data.get("init", {}))
        unknown = sorted(set(init) - set(cls._init_names))
        if unknown:
            raise ParameterError(f"{cls.__name__}.from_dict: unknown settings {unknown}; "
                                 f"expected a subset of {list(cls._init_names)}")
        model = cls(**init)
        model.params_ = values
        model.log_likelihood_ = data.get("log_likelihood")
        model.n_customers_ = data.get("n_customers")
        model.converged_ = data.get("converged")
        model.n_iter_ = data.get("n_iter")
        model.diagnostics_ = list(data.get("diagnostics", []))
        return model


def check_hyper(model: ProbabilisticModel) -> None:
    """Validate the stored hyper-parameters shared by the models (done in ``fit``)."""
    pen = getattr(model, "penalizer", 0.0)
    tol = getattr(model, "tol", 1e-8)
    max_iter = getattr(model, "max_iter", 1)
    if not (np.isfinite(pen) and pen >= 0):
        raise ParameterError(f"penalizer must be >= 0, got {pen!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise ParameterError(f"tol must be > 0, got {tol!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ParameterError(f"max_iter must be a positive integer, got {max_iter!r}")


def data_notes(x: np.ndarray, tx: np.ndarray, T: np.ndarray, comp: Compressed,
               cols: Columns) -> tuple[list[str], bool]:
    """Plain-language notes on degenerate transaction data (shared by BG/NBD and Pareto/NBD),
    and whether the data can identify the model at all."""
    n = cols.n
    notes = [f"compressed {n:,} customers to {comp.n_unique:,} unique (frequency, recency, T) "
             "rows"]
    identified = False
    if np.all(T == 0):
        notes.append("all customers have T == 0 (no time observed since the first purchase): "
                     "the likelihood is flat and the parameters are not identified; the "
                     "returned values are the starting point")
    elif np.all(x == 0):
        notes.append(f"no customer made a repeat purchase (all {n:,} have frequency 0): the "
                     "purchase rate is not identified and the estimates run to a limit")
    elif comp.n_unique == 1:
        notes.append(f"all {n:,} customers have the same (frequency, recency, T): there is no "
                     "heterogeneity to estimate, so the mixing distributions are not "
                     "identified")
    else:
        identified = True
    if n >= 20 and np.any(x > 0):
        p99 = float(np.quantile(x, 0.99))
        top = float(x.max())
        if top >= 50 and top > 10 * max(p99, 1.0):
            k = int(np.argmax(x))
            label = f"index {cols.index[k]!r}" if cols.index is not None else f"row {k}"
            notes.append(f"extreme frequency: {label} has {top:g} repeat purchases, more than "
                         f"10x the 99th percentile ({p99:g}); check it is one real customer")
    return notes, identified
