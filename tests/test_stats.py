"""dlcc.runs.stats against values known without it: printed t tables, closed forms, hand-worked examples.

Closed forms of Student's t CDF used as references (any textbook; they follow from integrating the
density for small integer df):
    df = 1 (Cauchy):  F(t) = 1/2 + atan(t) / pi
    df = 2:           F(t) = 1/2 + t / (2 sqrt(2 + t^2))
    df = 4:           F(t) = 1/2 + (3/4) (a - a^3/3),  a = t / sqrt(4 + t^2)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcc.runs import stats


def cdf_df1(t):
    return 0.5 + math.atan(t) / math.pi


def cdf_df2(t):
    return 0.5 + t / (2 * math.sqrt(2 + t * t))


def cdf_df4(t):
    a = t / math.sqrt(4 + t * t)
    return 0.5 + 0.75 * (a - a ** 3 / 3)


def cdf_by_integration(t: float, df: float) -> float:
    """F(t) = 1/2 + integral_0^t of the t density (Simpson's rule): a method that shares nothing
    with the incomplete beta function, for a df that has no closed form."""
    x = np.linspace(0.0, t, 20001)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    f = np.exp(log_c) * (1 + x * x / df) ** (-(df + 1) / 2)
    h = x[1] - x[0]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())


# --------------------------------------------------------------------------- incomplete beta

@pytest.mark.parametrize("x", [0.05, 0.3, 0.5, 0.7, 0.95])  # both sides of the symmetry switch
def test_incomplete_beta_closed_forms(x):
    """I_x(1, 1) = x,  I_x(a, 1) = x^a,  I_x(1, b) = 1 - (1 - x)^b."""
    assert stats.betainc(1.0, 1.0, x) == pytest.approx(x, rel=1e-12)
    assert stats.betainc(3.5, 1.0, x) == pytest.approx(x ** 3.5, rel=1e-12)
    assert stats.betainc(1.0, 4.0, x) == pytest.approx(1 - (1 - x) ** 4, rel=1e-12)


def test_incomplete_beta_symmetry_and_ends():
    """I_x(a, b) = 1 - I_{1-x}(b, a); I_0 = 0, I_1 = 1; x outside [0, 1] is refused."""
    for a, b, x in [(2.5, 0.5, 0.2), (0.5, 7.0, 0.9), (30.0, 0.5, 0.97)]:
        assert stats.betainc(a, b, x) == pytest.approx(1 - stats.betainc(b, a, 1 - x), rel=1e-12)
    assert stats.betainc(2.0, 3.0, 0.0) == 0.0 and stats.betainc(2.0, 3.0, 1.0) == 1.0
    with pytest.raises(ValueError):
        stats.betainc(2.0, 3.0, 1.5)


# --------------------------------------------------------------------------- Student t

def test_t_cdf_printed_value():
    """t = 2.0 with df = 5: 0.94903 (printed tables; two-sided p = 0.10194)."""
    assert stats.t_cdf(2.0, 5) == pytest.approx(0.94903, abs=5e-6)


@pytest.mark.parametrize("t", [-7.0, -1.3, -0.2, 0.0, 0.5, 1.0, 2.0, 4.0, 30.0])
def test_t_cdf_against_closed_forms(t):
    assert stats.t_cdf(t, 1) == pytest.approx(cdf_df1(t), abs=1e-13)
    assert stats.t_cdf(t, 2) == pytest.approx(cdf_df2(t), abs=1e-13)
    assert stats.t_cdf(t, 4) == pytest.approx(cdf_df4(t), abs=1e-13)


@pytest.mark.parametrize("t, df", [(0.7, 2.06), (2.9, 3.2), (1.5, 7.5), (-2.2, 11.3)])
def test_t_cdf_non_integer_df_against_integration(t, df):
    """Welch's df is rarely an integer."""
    assert stats.t_cdf(t, df) == pytest.approx(cdf_by_integration(t, df), abs=1e-9)


def test_t_cdf_tends_to_the_normal_and_handles_infinities():
    """Phi(1.96) = 0.9750021; with df = 1e6 the t CDF differs from it by about 1e-7."""
    assert stats.t_cdf(1.96, 1e6) == pytest.approx(0.5 * (1 + math.erf(1.96 / math.sqrt(2))), abs=1e-6)
    assert stats.t_cdf(math.inf, 3) == 1.0 and stats.t_cdf(-math.inf, 3) == 0.0
    assert math.isnan(stats.t_cdf(math.nan, 3))
    with pytest.raises(ValueError):
        stats.t_cdf(1.0, 0)


@pytest.mark.parametrize("df, table", [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042), (1000, 1.962)])
def test_t_quantile_matches_the_printed_table(df, table):
    """t_{0.975, df}, the two-sided 95% critical values of every t table."""
    assert stats.t_ppf(0.975, df) == pytest.approx(table, abs=5e-4)
    assert stats.t_ppf(0.025, df) == pytest.approx(-table, abs=5e-4)


def test_t_quantile_closed_forms_to_full_precision():
    """df = 1: t_p = tan(pi (p - 1/2)); df = 2: t_p = u sqrt(2) / sqrt(1 - u^2) with u = 2p - 1."""
    for p in (0.6, 0.9, 0.975, 0.999):
        assert stats.t_ppf(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
        u = 2 * p - 1
        assert stats.t_ppf(p, 2) == pytest.approx(u * math.sqrt(2) / math.sqrt(1 - u * u), rel=1e-9)


@pytest.mark.parametrize("p", [0.01, 0.3, 0.5, 0.8, 0.995])
@pytest.mark.parametrize("df", [1, 2.5, 9, 200])
def test_t_quantile_inverts_the_cdf(p, df):
    assert stats.t_cdf(stats.t_ppf(p, df), df) == pytest.approx(p, abs=1e-11)


# --------------------------------------------------------------------------- mean, std, interval

def test_sample_std_divides_by_n_minus_1():
    """[2, 4, 4, 4, 5, 5, 7, 9]: mean 5, squared deviations sum to 32; s = sqrt(32/7) = 2.13809
    (the population std, sqrt(32/8) = 2, would be the wrong one)."""
    xs = [2, 4, 4, 4, 5, 5, 7, 9]
    assert stats.mean(xs) == 5
    assert stats.sample_std(xs) == pytest.approx(math.sqrt(32 / 7), rel=1e-12)
    assert stats.sample_std([3.0]) == 0.0


def test_confidence_interval_by_hand():
    """[1, 2, 3]: mean 2, s = 1, t_{0.975, 2} = 4.302653, half width 4.302653 / sqrt(3) = 2.484138,
    so [-0.484138, 4.484138]. (A z interval, 1.96 / sqrt(3) = 1.1316, would be far too narrow.)"""
    lo, hi = stats.confidence_interval([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 2.484138, abs=1e-6) and hi == pytest.approx(2 + 2.484138, abs=1e-6)
    assert stats.confidence_interval([0.7, 0.7, 0.7]) == (0.7, 0.7)
    assert stats.confidence_interval([0.7]) is None


# --------------------------------------------------------------------------- Welch's t-test

def test_welch_equal_variances_by_hand():
    """a = [1, 2, 3], b = [4, 5, 6]: means 2 and 5, s^2 = 1 each, s^2/n = 1/3 each.
    t = (2 - 5) / sqrt(2/3) = -3.674235;  df = (2/3)^2 / ((1/3)^2/2 + (1/3)^2/2) = 4;
    a = 3.674235 / sqrt(4 + 13.5) = 0.878310, F_4 = 1/2 + 3/4 (a - a^3/3) = 0.989344,
    p = 2 (1 - 0.989344) = 0.021312."""
    w = stats.welch([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert w.t == pytest.approx(-3.674235, abs=1e-6)
    assert w.df == pytest.approx(4.0, rel=1e-12)
    assert w.p == pytest.approx(0.021312, abs=1e-6)
    assert stats.welch([4.0, 5.0, 6.0], [1.0, 2.0, 3.0]).p == pytest.approx(w.p, rel=1e-12)  # two-sided


def test_welch_df_is_not_the_pooled_df():
    """a = [1, 2, 3], b = [5, 5, 5] (no spread): s_a^2/n_a = 1/3, s_b^2/n_b = 0.
    t = -3 / sqrt(1/3) = -5.196152;  df = (1/3)^2 / ((1/3)^2 / 2) = 2 = n_a - 1;
    F_2: p = 1 - |t| / sqrt(2 + t^2) = 1 - 5.196152 / 5.385165 = 0.035099.
    The pooled (Student) test has the same t here but df = 4, p = 0.006533."""
    w = stats.welch([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert w.t == pytest.approx(-5.196152, abs=1e-6)
    assert w.df == pytest.approx(2.0, rel=1e-12)
    assert w.p == pytest.approx(0.035099, abs=1e-6)


def test_welch_unequal_sizes_and_variances():
    """a = [1, 2, 3, 4, 5]: mean 3, s^2 = 2.5, s^2/n = 0.5;  b = [10, 20, 30]: mean 20, s^2 = 100,
    s^2/n = 33.3333.  t = -17 / sqrt(33.8333) = -2.922648;
    df = 33.8333^2 / (0.5^2/4 + 33.3333^2/2) = 1144.694 / 555.618 = 2.060218.
    (Pooled: s_p^2 = (4*2.5 + 2*100)/6 = 35, t = -17 / sqrt(35 (1/5 + 1/3)) = -3.934735, df 6.)
    p = 2 (1 - F_2.060218(2.922648)), F by integrating the density."""
    w = stats.welch([1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 20.0, 30.0])
    assert w.t == pytest.approx(-2.922648, abs=1e-6)
    assert w.df == pytest.approx(2.060218, abs=1e-6)
    assert w.p == pytest.approx(2 * (1 - cdf_by_integration(2.922648, 2.060218)), abs=1e-6)
    assert 0.09 < w.p < 0.10


def test_welch_without_any_spread():
    """Both groups constant: equal means are indistinguishable (p = 1), different ones differ
    exactly (p = 0); t and df are undefined (0/0, x/0), so None."""
    assert stats.welch([0.9, 0.9], [0.9, 0.9, 0.9]) == stats.Welch(None, None, 1.0)
    assert stats.welch([0.9, 0.9], [0.8, 0.8, 0.8]) == stats.Welch(None, None, 0.0)


@pytest.mark.parametrize("scale", [1e-200, 1e-150, 1e150, 1e300])
def test_welch_at_any_scale(scale):
    """t and df do not change when both groups are scaled alike, even where the squares of the
    values (1e300^2) or of their variances (1e-200^4) are beyond a float's range."""
    w = stats.welch([1.0 * scale, 2.0 * scale, 3.0 * scale, 4.0 * scale, 5.0 * scale],
                    [10.0 * scale, 20.0 * scale, 30.0 * scale])
    assert w.t == pytest.approx(-2.922648, abs=1e-6)
    assert w.df == pytest.approx(2.060218, abs=1e-6)


def test_welch_needs_two_values_per_group():
    with pytest.raises(ValueError, match="at least 2"):
        stats.welch([1.0], [1.0, 2.0])


def test_tiny_p_values_keep_their_precision():
    """p = I_x(df/2, 1/2) directly, not 2 (1 - F): for t = 1000, df = 10 that is about 1.6e-25
    where 1 - F would round to 0."""
    w = stats.welch([1000.0, 1000.0 + 1e-3] * 3, [0.0, 1e-3] * 3)
    assert 0 < w.p < 1e-20
