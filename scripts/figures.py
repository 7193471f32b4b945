#!/usr/bin/python3
"""Pictures from hat's outputs (hat writes data; this turns it into figures).

    scripts/figures.py BASELINE_DIR [--counterfactual DIR] [--out DIR]

BASELINE_DIR is a `hat solve` output folder (solution.h5 with an [analysis] group); DIR a `hat counterfactual`
output folder. Writes PNGs into --out (default BASELINE_DIR/figures) and prints their names:

  trade_flows.png             model vs data log trade ratios log(pi_ij / pi_ii) (data worlds only)
  bilateral_elasticities.png  the analysed country's bilateral elasticity against the price it pays
  quintiles.png               import share, elasticity, MPC and assets by expenditure quintile
  ev_quintiles.png            EV (percent) by expenditure quintile            (with --counterfactual)
  ev_assets.png               EV (percent) over the asset grid per income state (with --counterfactual)

Needs h5py and matplotlib (Debian: python3-h5py, python3-matplotlib; scripts/setup.sh installs them).
"""
import argparse
import os
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def exact_quintiles(values, masses, expenditure):
    """Population means by expenditure quintile, as hat computes them (states straddling a boundary split)."""
    order = np.lexsort((np.arange(expenditure.size), expenditure))
    total = masses.sum()
    out = np.zeros((5,) + values.shape[1:])
    below = 0.0
    weights = np.zeros((5, expenditure.size))
    for k in order:
        lo, hi = below, below + masses[k]
        for b in range(5):
            overlap = min(hi, total * (b + 1) / 5) - max(lo, total * b / 5)
            if overlap > 0:
                weights[b, k] = overlap
        below = hi
    for b in range(5):
        out[b] = (weights[b] * values).sum() / weights[b].sum()
    return out


def save(fig, out, name, written):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baseline")
    ap.add_argument("--counterfactual")
    ap.add_argument("--out")
    args = ap.parse_args()
    out = args.out or os.path.join(args.baseline, "figures")
    path = os.path.join(args.baseline, "solution.h5")
    if not os.path.isfile(path):
        sys.exit(f"figures: {path}: no such file (run hat solve first)")
    if args.counterfactual and not os.path.isfile(os.path.join(args.counterfactual, "counterfactual.h5")):
        sys.exit(f"figures: {os.path.join(args.counterfactual, 'counterfactual.h5')}: no such file (run hat counterfactual first)")
    try:
        os.makedirs(out, exist_ok=True)
        draw(args, out)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"figures: {e}")


def draw(args, out):
    written = []
    path = os.path.join(args.baseline, "solution.h5")
    with h5py.File(path, "r") as f:
        names = f.attrs["countries"]
        names = (names.decode() if isinstance(names, bytes) else str(names)).split(",")
        if "gravity/data_log_trade_ratios" in f:
            data = f["gravity/data_log_trade_ratios"][:]
            model = f["gravity/model_log_trade_ratios"][:]
            fig, ax = plt.subplots(figsize=(5, 5))
            ax.scatter(data, model, s=8, alpha=0.6)
            lo, hi = min(data.min(), model.min()), max(data.max(), model.max())
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
            ax.set_xlabel("data: log(X_ij / X_ii)")
            ax.set_ylabel("model: log(pi_ij / pi_ii)")
            ax.set_title("Trade flows, model vs data")
            save(fig, out, "trade_flows.png", written)
        if "analysis" not in f:
            sys.exit(f"figures: {path} has no analysis/ group: add [analysis] country = \"...\" to the configuration")
        a = f["analysis"]
        country = f.attrs["analysis_country"]
        country = country.decode() if isinstance(country, bytes) else str(country)
        i = names.index(country)
        if "bilateral_elasticities" in a:
            theta = a["bilateral_elasticities"][:]
            prices = f["prices/buyer_prices"][i]
            partners = [j for j in range(len(names)) if j != i]
            fig, ax = plt.subplots(figsize=(6, 4.5))
            ax.scatter(np.log(prices[partners]), theta[partners])
            for j in partners:
                ax.annotate(names[j], (np.log(prices[j]), theta[j]), fontsize=7)
            ax.set_xlabel(f"log price paid by {country}, log p_ij")
            ax.set_ylabel("bilateral trade elasticity theta_ij")
            ax.set_title(f"{country}: bilateral elasticities (aggregate {a['aggregate_elasticity'][()]:.3f})")
            save(fig, out, "bilateral_elasticities.png", written)
        if "quintiles" in a:
            q = a["quintiles"]
            panels = [(k, label) for k, label in [("import_share", "import share"), ("elasticity", "trade elasticity"),
                                                  ("mpc", "MPC"), ("assets", "assets")] if k in q]
            fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
            for ax, (k, label) in zip(np.atleast_1d(axes), panels):
                ax.bar(range(1, 6), q[k][:])
                ax.set_xlabel("expenditure quintile")
                ax.set_title(label)
            fig.suptitle(f"{country}: households by expenditure quintile")
            save(fig, out, "quintiles.png", written)
    if args.counterfactual:
        path = os.path.join(args.counterfactual, "counterfactual.h5")
        if not os.path.isfile(path):
            sys.exit(f"figures: {path}: no such file (run hat counterfactual first)")
        with h5py.File(path, "r") as f:
            if "welfare/ev" not in f:
                sys.exit(f"figures: {path} has no welfare/ev (the counterfactual did not converge)")
            ev = 100 * (f["welfare/ev"][:] - 1)
            masses = f["welfare/distribution_before"][:]
            pc = f["welfare/expenditure_before"][:]
            grid = f["welfare/assets"][:]
            experiment = f.attrs["experiment"]
            experiment = experiment.decode() if isinstance(experiment, bytes) else str(experiment)
        q = exact_quintiles(ev.ravel(), masses.ravel(), pc.ravel())
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.bar(range(1, 6), q)
        ax.set_xlabel("expenditure quintile")
        ax.set_ylabel("EV, percent")
        ax.set_title(f"Welfare gains by quintile ({experiment})")
        save(fig, out, "ev_quintiles.png", written)
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for s in range(ev.shape[0]):
            ax.plot(grid, ev[s], lw=1, label=f"s = {s + 1}")
        ax.set_xlabel("assets")
        ax.set_ylabel("EV, percent")
        ax.set_title(f"Welfare gains over the asset grid ({experiment})")
        if ev.shape[0] <= 12:
            ax.legend(fontsize=6, ncol=2)
        save(fig, out, "ev_assets.png", written)
    for w in written:
        print(w)


if __name__ == "__main__":
    main()
