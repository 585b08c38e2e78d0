#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The benchmark's plot: imapwatch's throughput against its number of
workers, one panel a mix, one line a capture size, with the floor (a bare
libpcap loop) and tshark as dashed levels, on a logarithmic scale (the
floor reads some mixes thirty times faster than any analyzer).  An SVG written by hand, so
that nothing beyond python3 is needed.

    plot.py build/bench/throughput.tsv build/bench/throughput.svg

The input is tests/bench/run.sh's table: mix, size, program, workers
(0 for floor and tshark), MB/s.
"""
import csv
import math
import sys
from collections import defaultdict
from xml.sax.saxutils import escape

W, H = 300, 260            # one panel
ML, MR, MT, MB = 58, 14, 34, 46
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
LEVELS = {"floor": ("#555", "6,3"), "tshark": ("#b8860b", "2,3")}


def read(path):
    rows = defaultdict(lambda: defaultdict(dict))
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            key = "imapwatch" if r["program"] == "imapwatch" else r["program"]
            w = int(r["workers"])
            rows[r["mix"]][(key, r["size"])][w] = float(r["mbps"])
    return rows


def decades(lo, hi):
    """Powers of ten around [lo, hi]."""
    a = 10 ** math.floor(math.log10(max(lo, 1e-3)))
    b = 10 ** math.ceil(math.log10(max(hi, a * 10)))
    return a, b


def panel(out, x0, mix, series):
    vals = [v for s in series.values() for v in s.values() if v > 0] or [1]
    lo, hi = decades(min(vals), max(vals))
    workers = sorted({w for (p, _), s in series.items() if p == "imapwatch"
                      for w in s}) or [1]
    wmin = min(workers)
    wmax = max(max(workers), wmin + 1)
    pw, ph = W - ML - MR, H - MT - MB

    def X(w):
        return x0 + ML + (w - wmin) * pw / (wmax - wmin)

    def Y(v):
        f = (math.log10(max(v, lo)) - math.log10(lo)) / \
            (math.log10(hi) - math.log10(lo))
        return MT + ph - f * ph

    out.append('<text x="%g" y="18" font-weight="bold">%s mix</text>'
               % (x0 + ML, escape(mix)))
    v = lo
    while v <= hi * 1.0001:
        out.append('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#ddd"/>'
                   % (x0 + ML, x0 + ML + pw, Y(v), Y(v)))
        out.append('<text x="%g" y="%g" text-anchor="end" font-size="10">'
                   '%g</text>' % (x0 + ML - 4, Y(v) + 3, v))
        v *= 10
    for w in range(wmin, wmax + 1):
        out.append('<text x="%g" y="%g" text-anchor="middle" font-size="10">'
                   '%d</text>' % (X(w), MT + ph + 14, w))
    out.append('<text x="%g" y="%g" text-anchor="middle" font-size="11">'
               'workers</text>' % (x0 + ML + pw / 2, MT + ph + 30))
    out.append('<text transform="translate(%g,%g) rotate(-90)" '
               'text-anchor="middle" font-size="11">MB/s (log)</text>'
               % (x0 + 14, MT + ph / 2))
    sizes = sorted({s for (_, s) in series}, key=size_bytes)
    for i, size in enumerate(sizes):
        c = COLOURS[i % len(COLOURS)]
        pts = sorted(series.get(("imapwatch", size), {}).items())
        if pts:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" '
                       'points="%s"/>' % (c, " ".join(
                           "%g,%g" % (X(w), Y(v)) for w, v in pts)))
            for w, v in pts:
                out.append('<circle cx="%g" cy="%g" r="3" fill="%s"/>'
                           % (X(w), Y(v), c))
        for prog, (lc, dash) in LEVELS.items():
            v = series.get((prog, size), {}).get(0)
            if v is None:
                continue
            out.append('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" '
                       'stroke-dasharray="%s"/>' % (x0 + ML, x0 + ML + pw,
                                                    Y(v), Y(v), lc, dash))
            out.append('<text x="%g" y="%g" text-anchor="end" '
                       'font-size="9" fill="%s">%s %s</text>'
                       % (x0 + ML + pw, Y(v) - 3, lc, prog, size))
        out.append('<text x="%g" y="%g" font-size="10" fill="%s">'
                   'imapwatch %s</text>' % (x0 + ML + 4, MT + 12 + 12 * i, c,
                                            size))


def size_bytes(s):
    mult = {"K": 1e3, "M": 1e6, "G": 1e9}
    return float(s[:-1]) * mult.get(s[-1].upper(), 1) \
        if s[-1].upper() in mult else float(s)


def main():
    rows = read(sys.argv[1])
    mixes = [m for m in ("imap", "span", "clear") if m in rows] + \
        sorted(m for m in rows if m not in ("imap", "span", "clear"))
    if not mixes:
        sys.exit("plot.py: no rows in " + sys.argv[1])
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W * len(mixes), H),
           '<rect width="100%" height="100%" fill="white"/>']
    for i, m in enumerate(mixes):
        panel(out, i * W, m, rows[m])
    out.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
