"""Small statistics helpers in pure Python: the Student-t factor of an 80% interval, and
log-normal spreads.

No numpy or scipy: the package must import and run without them. The 0.9 quantile of
Student's t is a table (1 to 100 degrees of freedom) and, above it, the textbook asymptotic
series, which agrees with the exact value to better than 1e-11 there.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["T90_TABLE", "Z80", "combine", "t80_factor", "t90"]

#: two-sided 80% interval: the 10th and 90th percentiles of the standard normal
Z80 = NormalDist().inv_cdf(0.9)

#: the 0.9 quantile of Student's t for 1, 2, ... 100 degrees of freedom. Computed once with
#: SciPy 1.17.1, ``[float(scipy.stats.t.ppf(0.9, df)) for df in range(1, 101)]``, and
#: checked against SciPy by tests/predict/test_priors.py when SciPy is installed. The same
#: values, to three decimals, are in any table of the t distribution (e.g. the NIST/SEMATECH
#: e-Handbook of Statistical Methods, section 1.3.6.7.2, upper-tail column 0.10).
# fmt: off
T90_TABLE: tuple[float, ...] = (
    3.0776835371752544, 1.8856180831641272, 1.637744353696209, 1.533206274058944,  # df 1-4
    1.4758840488244815, 1.4397557472651483, 1.4149239276505086, 1.3968153097438654,  # df 5-8
    1.3830287383966329, 1.372183641110336, 1.3634303180205407, 1.356217334023205,  # df 9-12
    1.3501712887800552, 1.345030374454651, 1.3406056078504558, 1.3367571673273153,  # df 13-16
    1.3333793897216268, 1.3303909435699093, 1.3277282090267986, 1.3253407069850465,  # df 17-20
    1.3231878738651728, 1.321236741613362, 1.3194602398161621, 1.3178359336731498,  # df 21-24
    1.31634507267387, 1.3149718642705175, 1.3137029128292737, 1.3125267815926664,  # df 25-28
    1.311433647301551, 1.3104150253913955, 1.3094635494946454, 1.3085727931295192,  # df 29-32
    1.3077371244508864, 1.30695158712643, 1.3062118020160345, 1.3055138855362491,  # df 33-36
    1.3048543814976248, 1.3042302038905027, 1.303638588621274, 1.3030770526071949,  # df 37-40
    1.3025433589533826, 1.3020354871825164, 1.3015516076821692, 1.3010900596888,  # df 41-44
    1.300649332250237, 1.300228047706941, 1.2998249473116632, 1.2994388786713913,  # df 45-48
    1.29906878474775, 1.2987136941948096, 1.2983727128483713, 1.298045016209747,  # df 49-52
    1.2977298427910686, 1.2974264882090676, 1.297134299930939, 1.2968526725898022,  # df 53-56
    1.2965810437990108, 1.2963188904044196, 1.2960657251220526, 1.295821093515731,  # df 57-60
    1.295584571275215, 1.2953557617605744, 1.2951342937828885, 1.2949198195951734,  # df 61-64
    1.2947120130706502, 1.2945105680482978, 1.294315196828032, 1.294125628799966,  # df 65-68
    1.2939416091940068, 1.2937628979376565, 1.293589268611235, 1.2934205074909746,  # df 69-72
    1.293256412671486, 1.2930967932600053, 1.2929414686356846, 1.2927902677678662,  # df 73-76
    1.2926430285879371, 1.2924995974099205, 1.2923598283954365, 1.292223583059134,  # df 77-80
    1.2920907298110484, 1.291961143532728, 1.2918347051842411, 1.291711301439478,  # df 81-84
    1.2915908243474012, 1.2914731710171086, 1.2913582433247868, 1.2912459476407938,  # df 85-88
    1.2911361945752793, 1.2910288987408907, 1.2909239785312356, 1.2908213559139048,  # df 89-92
    1.2907209562369335, 1.290622708047717, 1.2905265429234305, 1.2904323953121315,  # df 93-96
    1.2903402023837538, 1.2902499038902864, 1.2901614420344854, 1.290074761346516,  # df 97-100
)
# fmt: on


def _t90_series(df: float) -> float:
    """The 0.9 quantile of Student's t for large ``df``: the Cornish-Fisher series in 1/df
    (Abramowitz and Stegun, Handbook of Mathematical Functions, 26.7.5) to its fourth term;
    above 100 degrees of freedom it is within 1e-11 of the exact value."""
    z = Z80
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def t90(df: float) -> float:
    """The 0.9 quantile of Student's t with ``df`` degrees of freedom: a whole number >= 1
    (from :data:`T90_TABLE` up to 100), or ``math.inf`` (the normal quantile :data:`Z80`)."""
    if df == math.inf:
        return Z80
    if not df >= 1 or df != int(df):
        raise ValueError(f"degrees of freedom must be a whole number >= 1, got {df!r}")
    if df <= len(T90_TABLE):
        return T90_TABLE[int(df) - 1]
    return _t90_series(df)


def t80_factor(df: float) -> float:
    """How much wider an 80% interval is with Student's t on ``df`` degrees of freedom
    than with the normal: t(0.9, df) / z(0.9)."""
    return t90(df) / Z80


def combine(*sigmas: float) -> float:
    """Root sum of squares of independent log-scale spreads."""
    return math.sqrt(sum(s * s for s in sigmas))
