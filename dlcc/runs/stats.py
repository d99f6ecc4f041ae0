"""The statistics `dlcc compare` puts on seed groups, in plain Python (no SciPy): summaries, the
Student t distribution, Welch's test, and how groups are ranked and their tests read in words.

Notation: a group holds n finite values x_1..x_n of one metric, one per seed.

    mean      x̄ = (1/n) sum_i x_i
    std       s = sqrt( sum_i (x_i - x̄)^2 / (n - 1) )          (sample std; needs n >= 2)
    95% CI    x̄ ± t_{0.975, n-1} · s / sqrt(n)                  (Student t interval)
    Welch     t = (x̄_a - x̄_b) / sqrt(s_a^2/n_a + s_b^2/n_b)
              df = (s_a^2/n_a + s_b^2/n_b)^2 / [ (s_a^2/n_a)^2/(n_a - 1) + (s_b^2/n_b)^2/(n_b - 1) ]
                                                                 (Welch–Satterthwaite)
              p = 2 · (1 - F_df(|t|)) = I_{df/(df+t^2)}(df/2, 1/2)   (two-sided)

F_df is the CDF of Student's t distribution with df degrees of freedom (df need not be an
integer: Welch's df rarely is). It comes from the regularized incomplete beta function I_x(a, b),
evaluated with the continued fraction of Numerical Recipes (`betacf`); the quantile t_{p, df}
inverts F_df by bisection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.05      # significance level: a group is "worse" than the best when Welch's p < ALPHA
EPS = 3e-16       # relative accuracy the continued fraction stops at
TINY = 1e-300     # keeps the Lentz recurrences away from a division by zero
MAX_TERMS = 1000  # I_x(a, b) converges in O(sqrt(max(a, b))) terms; df = 1e6 needs ~ 1000


def betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method (Numerical Recipes 6.4):

        I_x(a, b) = x^a (1-x)^b / (a B(a, b)) · 1/(1+ d_1/(1+ d_2/(1+ ...)))
        d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1))
        d_{2m}   =  m (b-m) x / ((a+2m-1)(a+2m))

    It converges fast for x < (a+1)/(a+b+2); betainc uses the symmetry for larger x.
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > TINY else TINY)
    h = d
    for m in range(1, MAX_TERMS + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),             # even step d_{2m}
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):   # odd step d_{2m+1}
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > TINY else TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > TINY else TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < EPS:
            return h
    raise ArithmeticError(f"betacf({a}, {b}, {x}) did not converge in {MAX_TERMS} terms")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function

        I_x(a, b) = (1 / B(a, b)) ∫_0^x u^(a-1) (1-u)^(b-1) du,   B(a, b) = Γ(a)Γ(b)/Γ(a+b),

    through the continued fraction, using I_x(a, b) = 1 - I_{1-x}(b, a) where that converges faster.
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x = {x} is outside [0, 1]")
    if x in (0.0, 1.0):
        return x
    # x^a (1-x)^b / B(a, b), in logs so that large a and b do not overflow
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * betacf(a, b, x) / a
    return 1.0 - front * betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """F_df(t) = P(T <= t) for Student's t with df > 0 degrees of freedom:

        x = df / (df + t^2),   P(|T| > |t|) = I_x(df/2, 1/2),
        F_df(t) = 1 - I_x(df/2, 1/2) / 2  for t >= 0,   I_x(df/2, 1/2) / 2  for t < 0.
    """
    if not df > 0:
        raise ValueError(f"t_cdf: df = {df} must be > 0")
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The quantile t_{p, df}: the t with F_df(t) = p, found by bisection (F_df is increasing).

    By symmetry t_{p, df} = -t_{1-p, df}, so only p > 1/2 is searched: the bracket [0, hi] starts
    at hi = 1 and doubles until F_df(hi) >= p, then halves until it is 1e-12 wide (relative).
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_ppf: p = {p} must be strictly between 0 and 1")
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def mean(xs: list[float]) -> float:
    """x̄ = sum x / n, the sum rounded once (math.fsum), so the order of the values does not matter;
    equal values give exactly that value (3 x 0.9 is 0.9, not 0.9000000000000001)."""
    if all(x == xs[0] for x in xs):
        return float(xs[0])
    try:
        return math.fsum(xs) / len(xs)
    except OverflowError:  # values near the float limit (a run that blew up): sum them scaled
        return math.fsum(x / len(xs) for x in xs)


def sample_std(xs: list[float]) -> float:
    """s = sqrt(sum (x - x̄)^2 / (n - 1)); exactly 0 for equal values and for a single one."""
    if len(xs) < 2 or all(x == xs[0] for x in xs):
        return 0.0
    m = mean(xs)
    # (x - m) * (x - m), not ** 2: a square beyond the float range is inf instead of OverflowError
    return math.sqrt(math.fsum((x - m) * (x - m) for x in xs) / (len(xs) - 1))


def confidence_interval(xs: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """x̄ ± t_{(1+level)/2, n-1} · s / sqrt(n); None for n < 2 (one value gives no interval)."""
    n = len(xs)
    if n < 2:
        return None
    m = mean(xs)
    half = t_ppf(0.5 + level / 2.0, n - 1) * sample_std(xs) / math.sqrt(n)
    return (m - half, m + half)


@dataclass(frozen=True)
class Welch:
    """Welch's two-sided t-test of mean(a) = mean(b). t and df are None when both groups have
    zero spread (the test statistic is undefined; p is then 1 for equal means, 0 for different)."""

    t: float | None
    df: float | None
    p: float


def welch(a: list[float], b: list[float]) -> Welch:
    """Welch's t-test (unequal variances), see the module docstring; each group needs n >= 2."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError(f"welch: each group needs at least 2 values (got {na} and {nb})")
    # t and df do not change when both groups are scaled alike; scaled to |x| <= 1, no square
    # below can overflow (a loss of 1e200 squared is inf in floats).
    scale = max(abs(x) for x in a + b) or 1.0
    a, b = [x / scale for x in a], [x / scale for x in b]
    va, vb = sample_std(a) ** 2 / na, sample_std(b) ** 2 / nb  # squared standard errors
    diff = mean(a) - mean(b)
    if va + vb == 0.0:
        return Welch(None, None, 1.0 if diff == 0.0 else 0.0)
    t = diff / math.sqrt(va + vb)
    # (va + vb)^2 / (va^2 / (na - 1) + vb^2 / (nb - 1)), written with the shares va / (va + vb) so
    # that tiny variances cannot underflow to 0 / 0
    share_a, share_b = va / (va + vb), vb / (va + vb)
    df = 1.0 / (share_a ** 2 / (na - 1) + share_b ** 2 / (nb - 1))
    # 2 (1 - F_df(|t|)) straight from I_x: no 1 - 0.9999... cancellation for tiny p
    return Welch(t, df, betainc(df / 2.0, 0.5, df / (df + t * t)))


# --------------------------------------------------------------------------- seed groups

@dataclass(frozen=True)
class Stat:
    """mean ± sample std of n finite values, and their 95% Student t interval (None for n = 1)."""

    mean: float
    std: float
    n: int
    ci95: tuple[float, float] | None = None


def finite(values) -> list[float]:
    """The values that are numbers: None (no value) and NaN or inf (a diverged run) are left out."""
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def summarize(values) -> Stat | None:
    """Stat of the finite values, None when there are none."""
    xs = finite(values)
    return Stat(mean(xs), sample_std(xs), len(xs), confidence_interval(xs)) if xs else None


def rounded(x: float) -> float:
    """x to 12 significant digits: means that agree that far are equal ((0.8 + 0.9 + 1.0)/3 is 0.9)."""
    return float(f"{x:.12g}")


def against_best(values: list[float], best: list[float]) -> tuple[Welch | None, str, str]:
    """Welch's test of a group's values against the best group's, read in words:
    (test, outcome, verdict) with outcome "worse", "not distinguishable" or "no test".

    A single value on either side cannot be tested (no spread to estimate). Two groups without any
    spread and different means differ exactly (p = 0); p < ALPHA is "worse"; otherwise the data do
    not separate the groups at these n, which is not evidence that they are equal.
    """
    if len(values) < 2 or len(best) < 2:
        who = "this group has" if len(values) < 2 else "the best group has"
        return None, "no test", f"no test possible: {who} n=1 (repeat it with more seeds)"
    tested = welch(values, best)
    if tested.t is None:
        return tested, "worse", "worse: the difference is exact across seeds (p = 0)"
    if tested.p < ALPHA:
        return tested, "worse", f"worse (p = {format_p(tested.p)})"
    at = f"n={len(values)}" if len(values) == len(best) else f"n={len(values)} vs {len(best)}"
    return tested, "not distinguishable", f"not distinguishable from the best at {at} (p = {format_p(tested.p)})"


def format_p(p: float) -> str:
    """Two significant digits, more where rounding would cross ALPHA (0.0496 is not "0.05")."""
    if p == 0:
        return "0"
    if p < 1e-4:
        return f"{p:.1e}"
    for digits in range(2, 7):
        text = f"{p:.{digits}g}"
        if (float(text) < ALPHA) == (p < ALPHA):
            return text
    return text


@dataclass(frozen=True)
class Group:
    """Runs of one config over several seeds (indices into Comparison.runs), summarized and tested.

    stats:   metric -> {"best": Stat of the runs' values at their best epochs (runs/best.py;
                        for test_*, the kept model's), "final": Stat of their final values}
    keys:    the config keys that tell the groups apart -> this group's value; label: "k=v k=v"
    rank:    1 for the best group by the deciding metric; None when no run of the group has a value
    test:    Welch's test of the best values against the rank-1 group (None: not possible)
    outcome: best | worse | not distinguishable | tied | no test | no value; verdict: in a sentence
    """

    members: tuple[int, ...]
    seeds: tuple
    stats: dict
    keys: dict
    label: str
    rank: int | None
    test: Welch | None
    outcome: str
    verdict: str

    @property
    def p_value(self) -> float | None:
        return None if self.test is None else self.test.p

    def to_json(self, metric: str) -> dict:
        """The deciding metric's best-value statistics and test at the top, then every metric."""
        final, test = self.stats[metric]["final"], self.test
        top = _stat_json(self.stats[metric]["best"]) or {"n": 0, "mean": None, "std": None, "ci95": None}
        return {"rank": self.rank, "label": self.label, "keys": self.keys, "runs": list(self.members),
                "seeds": list(self.seeds), **top, "final_mean": None if final is None else final.mean,
                "p_value": self.p_value, "t": None if test is None else test.t,
                "df": None if test is None else test.df, "outcome": self.outcome, "verdict": self.verdict,
                "metrics": {m: {k: _stat_json(s) for k, s in v.items()} for m, v in self.stats.items()}}


def _stat_json(s: Stat | None) -> dict | None:
    return None if s is None else {"n": s.n, "mean": s.mean, "std": s.std, "ci95": None if s.ci95 is None else list(s.ci95)}


def rank(summaries: list[dict], metric: str, higher: bool, other: str | None) -> list[int]:
    """Indices of the groups with a best `metric` (runs/best.py), best first: by mean; equal means
    (to 12 digits) by the mean best `other` (the loss on the same split; lower first), then in the
    order given."""
    def key(k: int) -> tuple:
        mine = rounded(summaries[k][metric]["best"].mean)
        loss = summaries[k].get(other, {}).get("best") if other else None
        return (-mine if higher else mine, math.inf if loss is None else rounded(loss.mean), k)

    return sorted((k for k, s in enumerate(summaries) if s[metric]["best"] is not None), key=key)


def judge(values: list[float], best: list[float], mine: dict, top: dict, metric: str, other: str | None,
          is_best: bool) -> tuple[Welch | None, str, str]:
    """(test, outcome, verdict) of a group with best values `values` and summaries `mine`, against
    the rank-1 group's `best` and `top`; a group with the best mean lost on `other` is "tied"."""
    if not values:
        return None, "no value", f"no {metric} at a best epoch recorded"
    if is_best:
        return None, "best", "best"
    if rounded(mine[metric]["best"].mean) != rounded(top[metric]["best"].mean):
        return against_best(values, best)
    test = welch(values, best) if len(values) > 1 and len(best) > 1 else None
    losses = [s.get(other, {}).get("best") if other else None for s in (mine, top)]
    same = f"not distinguishable from the best: the same mean {metric}"
    if None in losses or rounded(losses[0].mean) == rounded(losses[1].mean):
        return test, "tied", f"{same}; listed in the order given"
    return test, "tied", f"{same}, ranked below it by a higher mean {other}"
