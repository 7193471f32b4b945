#!/usr/bin/env python3
"""Pictures from hat's outputs (hat writes data; this turns it into figures).

    scripts/figures.py BASELINE_DIR [--counterfactual DIR] [--policy DIR ...] [--out DIR]

BASELINE_DIR is a `hat solve` output folder (solution.h5 with an [analysis] group); DIR a `hat counterfactual`
output folder; each --policy DIR a `hat policy` output folder (one per rebate scheme, same country). Writes PNGs into --out (default BASELINE_DIR/figures) and prints their names:

  trade_flows.png             model vs data log trade ratios log(pi_ij / pi_ii) (data worlds only)
  bilateral_elasticities.png  the analysed country's bilateral elasticity against the price it pays
  quintiles.png               import share, elasticity, MPC and assets by expenditure quintile
  ev_quintiles.png            EV (percent) by expenditure quintile            (with --counterfactual)
  ev_assets.png               EV (percent) over the asset grid per income state (with --counterfactual)
  decomposition.png           the gains' split by expenditure quintile: substitution, factor prices, asset
                              holdings, stacked, and their total (a counterfactual run with --decompose)
  policy_curves.png           W(t) against the tariff per rebate scheme, utilitarian and bottom quintile,
                              each optimum marked                                      (with --policy)

Exit status: 0 done, 2 bad input (arguments, a missing or unreadable output folder or file, a missing module),
4 the figures or their names could not be written. Every failure is one line on standard error.

Needs numpy, h5py and matplotlib (Debian: python3-h5py, python3-matplotlib; scripts/setup.sh installs them).
A python3 without them (a pyenv or venv one) hands the run over to the first python3 on PATH, or
/usr/bin/python3, that has them; HAT_FIGURES_HANDOVER=0 turns that off.
"""
import argparse
import json
import os
import subprocess
import sys

BAD_INPUT = 2
IO_FAILURE = 4
MODULES = ("numpy", "h5py", "matplotlib")
# Set to 0 in the interpreter handed to, so a hand-over never repeats (and by a user to refuse hand-overs).
HANDOVER = "HAT_FIGURES_HANDOVER"
HANDED_OVER_FROM = "HAT_FIGURES_HANDED_OVER_FROM"
INSTALL = "Debian: apt-get install python3-h5py python3-matplotlib; pip: pip install h5py matplotlib numpy"


def one_line(text):
    """Control characters (a newline in a file name) escaped, so a message stays one line."""
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(escapes.get(c, "\\u{%X}" % ord(c)) if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)


def fail(status, message):
    sys.stderr.write("figures: " + one_line(message) + "\n")
    sys.stderr.flush()
    sys.exit(status)


def reason(error):
    """An OSError's text without the path Python appends (the message names the path itself)."""
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error).strip('"')


class Parser(argparse.ArgumentParser):
    def error(self, message):
        usage = " ".join(self.format_usage().split()[1:])  # one line whatever the terminal's width
        fail(BAD_INPUT, f"{message} (usage: {usage})")


def parse(argv):
    ap = Parser(prog="figures.py", description=__doc__.splitlines()[0])
    ap.add_argument("baseline", metavar="BASELINE")
    ap.add_argument("--counterfactual", metavar="DIR")
    ap.add_argument("--policy", metavar="DIR", action="append", default=[])
    ap.add_argument("--out", metavar="DIR")
    return ap.parse_args(argv)


# ----------------------------------------------------------------------------------------------------------
# The interpreter: a python3 without the modules hands over to one that has them.

def missing_modules():
    missing = []
    for name in MODULES:
        try:
            __import__(name)
        except Exception:  # a module that is there but broken (another Python's build) counts as missing
            missing.append(name)
    return missing


def candidate_interpreters():
    """Every python3 on PATH, then /usr/bin/python3, each folder once (/bin and /usr/bin may be one)."""
    current = os.path.join(os.path.realpath(os.path.dirname(sys.executable or ".")), os.path.basename(sys.executable or ""))
    seen = {current}
    for folder in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin"]:
        path = os.path.join(folder or ".", "python3")
        key = os.path.join(os.path.realpath(folder or "."), "python3")
        if key in seen or not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        seen.add(key)
        yield path


def hand_over(missing):
    this = sys.executable or "python3"
    advice = f"install them ({INSTALL})" if len(missing) > 1 else f"install it ({INSTALL})"
    names = ", ".join(missing)
    if os.environ.get(HANDOVER) == "0":
        origin = os.environ.get(HANDED_OVER_FROM)
        if origin:
            fail(BAD_INPUT, f"{this} (handed over from {origin}) cannot import {names} after all: {advice}")
        fail(BAD_INPUT, f"{this} cannot import {names} ({HANDOVER}=0: no other python3 tried): {advice}")
    script = os.path.abspath(__file__)
    environment = dict(os.environ)
    environment[HANDOVER] = "0"
    environment[HANDED_OVER_FROM] = this
    for python in candidate_interpreters():
        try:
            # Run from the script's folder: the first entry of sys.path is then the one the script will see.
            probe = subprocess.run([python, "-c", "import " + ", ".join(MODULES)], cwd=os.path.dirname(script),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=environment, timeout=120)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            try:
                os.execve(python, [python, script] + sys.argv[1:], environment)
            except OSError:
                continue
    fail(BAD_INPUT, f"{this} cannot import {names}, nor can any other python3 on PATH or /usr/bin/python3: {advice}")


# ----------------------------------------------------------------------------------------------------------
# Reading: every input is read and checked before anything is written.

class BadInput(Exception):
    """A message naming the option and file; exit 2."""


class Unwritable(Exception):
    """A message naming the option and file; exit 4."""


def text_attribute(f, name, option, path):
    if name not in f.attrs:
        raise BadInput(f"{option} {path}: no attribute {name} (not a hat output?)")
    value = f.attrs[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def dataset(f, name, option, path):
    if name not in f:
        raise BadInput(f"{option} {path}: no {name} (not a hat output?)")
    return f[name]


def open_input(option, folder, name, run):
    """FOLDER/NAME as an open HDF5 file; BadInput naming the option when it is missing or unreadable."""
    if folder == "":
        raise BadInput(f"{option}: empty folder name")
    if not os.path.exists(folder):
        raise BadInput(f"{option} {folder}: no such folder")
    if not os.path.isdir(folder):
        raise BadInput(f"{option} {folder}: not a folder")
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise BadInput(f"{option} {path}: no such file (run {run} first)")
    try:
        return path, h5py.File(path, "r")
    except OSError as e:
        raise BadInput(f"{option} {path}: not a readable HDF5 file ({reason(e)})")


def read_baseline(folder):
    option = "BASELINE"
    path, f = open_input(option, folder, "solution.h5", "hat solve")
    with f:
        data = {"path": path}
        names = text_attribute(f, "countries", option, path).split(",")
        data["names"] = names
        if "gravity/data_log_trade_ratios" in f:
            data["data"] = f["gravity/data_log_trade_ratios"][:]
            data["model"] = dataset(f, "gravity/model_log_trade_ratios", option, path)[:]
        if "analysis" not in f:
            raise BadInput(f"{option} {path} has no analysis/ group: add [analysis] country = \"...\" to the configuration")
        a = f["analysis"]
        country = text_attribute(f, "analysis_country", option, path)
        if country not in names:
            raise BadInput(f"{option} {path}: the analysed country {country} is not among the countries {','.join(names)}")
        data["country"] = country
        i = names.index(country)
        if "bilateral_elasticities" in a:
            data["theta"] = a["bilateral_elasticities"][:]
            data["prices"] = dataset(f, "prices/buyer_prices", option, path)[i]
            data["aggregate"] = dataset(f, "analysis/aggregate_elasticity", option, path)[()]
        if "quintiles" in a:
            q = a["quintiles"]
            data["quintiles"] = [(k, label, q[k][:]) for k, label in [("import_share", "import share"),
                                                                     ("elasticity", "trade elasticity"),
                                                                     ("mpc", "MPC"), ("assets", "assets")] if k in q]
    return data


def read_counterfactual(folder):
    option = "--counterfactual"
    path, f = open_input(option, folder, "counterfactual.h5", "hat counterfactual")
    with f:
        if "welfare/ev" not in f:
            raise BadInput(f"{option} {path} has no welfare/ev (the counterfactual did not converge)")
        return {"path": path,
                "ev": 100 * (f["welfare/ev"][:] - 1),
                "masses": dataset(f, "welfare/distribution_before", option, path)[:],
                "pc": dataset(f, "welfare/expenditure_before", option, path)[:],
                "grid": dataset(f, "welfare/assets", option, path)[:],
                "experiment": text_attribute(f, "experiment", option, path),
                "decomposition": ({name: f[f"decomposition/{name}"][:] for name in
                                   ("substitution", "factor_prices", "asset_holdings", "total", "transfer_value")}
                                  if "decomposition/total" in f else None),
                "mean_labour_income": (float(f["decomposition/mean_labour_income"][0])
                                       if "decomposition/total" in f else None)}


def read_policy(folder):
    option = "--policy"
    path, f = open_input(option, folder, "policy.h5", "hat policy")
    with f:
        curves = {}
        for label in ("utilitarian", "bottom-quintile"):
            name = "candidates/welfare_" + label
            curves[label] = dataset(f, name, option, path)[:]
        tariff = dataset(f, "candidates/tariff", option, path)[:]
        scheme = text_attribute(f, "rebate", option, path)
        country = text_attribute(f, "country", option, path)
    optima = {}
    summary = os.path.join(folder, "policy.json")
    try:
        with open(summary, encoding="utf-8") as j:
            found = json.load(j)
        found = found.get("optimum", {}) if isinstance(found, dict) else None
        if not isinstance(found, dict):
            raise ValueError("no optimum object")
    except (OSError, ValueError) as e:
        raise BadInput(f"{option} {summary}: cannot read it ({reason(e)})")
    for label, at in found.items():
        optima[label] = (float(at["tariff"]), float(at["welfare"]))
    return {"path": path, "tariff": tariff, "curves": curves, "scheme": scheme, "country": country, "optima": optima}


def read(reader, option, folder, name):
    """reader(folder), with a damaged file (a truncated dataset, a wrong type or shape) as BadInput."""
    try:
        return reader(folder)
    except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
        raise BadInput(f"{option} {os.path.join(folder, name)}: cannot read it ({reason(e)})")


# ----------------------------------------------------------------------------------------------------------
# Drawing

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
    """Write through a temporary beside the figure, never through a link, so a failure leaves no partial PNG."""
    path = os.path.join(out, name)
    temporary = os.path.join(out, f".{name}.tmp-{os.getpid()}")
    fig.tight_layout()
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            with os.fdopen(fd, "wb") as handle:
                fig.savefig(handle, format="png", dpi=110)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
    except OSError as e:
        raise Unwritable(f"--out {path}: cannot write the figure: {reason(e)}")
    finally:
        plt.close(fig)
    written.append(path)


def draw_baseline(b, out, written):
    names, country = b["names"], b["country"]
    if "data" in b:
        data, model = b["data"], b["model"]
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(data, model, s=8, alpha=0.6)
        lo, hi = min(data.min(), model.min()), max(data.max(), model.max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.set_xlabel("data: log(X_ij / X_ii)")
        ax.set_ylabel("model: log(pi_ij / pi_ii)")
        ax.set_title("Trade flows, model vs data")
        save(fig, out, "trade_flows.png", written)
    i = names.index(country)
    if "theta" in b:
        theta, prices = b["theta"], b["prices"]
        partners = [j for j in range(len(names)) if j != i]
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.scatter(np.log(prices[partners]), theta[partners])
        for j in partners:
            ax.annotate(names[j], (np.log(prices[j]), theta[j]), fontsize=7)
        ax.set_xlabel(f"log price paid by {country}, log p_ij")
        ax.set_ylabel("bilateral trade elasticity theta_ij")
        ax.set_title(f"{country}: bilateral elasticities (aggregate {b['aggregate']:.3f})")
        save(fig, out, "bilateral_elasticities.png", written)
    if "quintiles" in b:
        panels = b["quintiles"]
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
        for ax, (k, label, values) in zip(np.atleast_1d(axes), panels):
            ax.bar(range(1, 6), values)
            ax.set_xlabel("expenditure quintile")
            ax.set_title(label)
        fig.suptitle(f"{country}: households by expenditure quintile")
        save(fig, out, "quintiles.png", written)


def draw_counterfactual(c, out, written):
    ev, experiment = c["ev"], c["experiment"]
    q = exact_quintiles(ev.ravel(), c["masses"].ravel(), c["pc"].ravel())
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.bar(range(1, 6), q)
    ax.set_xlabel("expenditure quintile")
    ax.set_ylabel("EV, percent")
    ax.set_title(f"Welfare gains by quintile ({experiment})")
    save(fig, out, "ev_quintiles.png", written)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for s in range(ev.shape[0]):
        ax.plot(c["grid"], ev[s], lw=1, label=f"s = {s + 1}")
    ax.set_xlabel("assets")
    ax.set_ylabel("EV, percent")
    ax.set_title(f"Welfare gains over the asset grid ({experiment})")
    if ev.shape[0] <= 12:
        ax.legend(fontsize=6, ncol=2)
    save(fig, out, "ev_assets.png", written)
    if c["decomposition"] is not None:
        d = c["decomposition"]
        # As per-period transfers of the same value (each state's term over its dV/d tau), in percent of mean
        # labour income, which counterfactual.json records.
        unit = c["mean_labour_income"]
        means = {name: exact_quintiles((100 * values / d["transfer_value"] / unit).ravel(), c["masses"].ravel(), c["pc"].ravel())
                 for name, values in d.items() if name != "transfer_value"}
        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(1, 6)
        # Positive parts stack upwards from zero, negative parts downwards, so every term stays visible.
        up, down = np.zeros(5), np.zeros(5)
        for name, label in (("substitution", "substitution (A)"), ("factor_prices", "factor prices (B)"),
                            ("asset_holdings", "asset holdings (C)")):
            v = means[name]
            bottom = np.where(v >= 0, up, down)
            ax.bar(x, v, bottom=bottom, label=label, width=0.6)
            up, down = up + np.maximum(v, 0), down + np.minimum(v, 0)
        ax.plot(x, means["total"], "k_", markersize=18, mew=2, label="total")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("expenditure quintile")
        ax.set_ylabel("equal-value transfer, % of mean labour income")
        ax.set_title(f"Where the gains come from ({experiment})")
        ax.legend(fontsize=7)
        save(fig, out, "decomposition.png", written)


def draw_policies(policies, out, written):
    countries = sorted({p["country"] for p in policies})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, label in zip(axes, ("utilitarian", "bottom-quintile")):
        for p in policies:
            order = np.argsort(p["tariff"])
            t, w = p["tariff"][order], p["curves"][label][order]
            line, = ax.plot(100 * t, 100 * (w - 1), marker=".", lw=1, label=p["scheme"])
            if label in p["optima"]:
                at, value = p["optima"][label]
                ax.plot([100 * at], [100 * (value - 1)], "*", color=line.get_color(), markersize=11)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel(f"{countries[0]}'s uniform import tariff, percent")
        ax.set_ylabel("W(t): mean EV, percent" if label == "utilitarian" else "W(t): bottom quintile's EV, percent")
        ax.set_title(f"{label} (optimum starred)")
        ax.legend(fontsize=7, title="revenue", title_fontsize=7)
    save(fig, out, "policy_curves.png", written)


def make_folder(out):
    """Make OUT and its missing parents; the folders made, outermost first (removed again on failure)."""
    made = []
    missing = []
    folder = os.path.abspath(out)
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    try:
        for folder in reversed(missing):
            os.mkdir(folder)
            made.append(folder)
    except OSError as e:
        remove_made(made)
        raise Unwritable(f"--out {out}: cannot make the folder: {reason(e)}")
    if not os.path.isdir(out):
        raise Unwritable(f"--out {out}: cannot make the folder: a parent is not a folder")
    return made


def remove_made(made):
    for folder in reversed(made):
        try:
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                if not os.path.isdir(path) or os.path.islink(path):
                    os.unlink(path)
            os.rmdir(folder)
        except OSError:
            pass


def run(args):
    for option, value in (("--counterfactual", args.counterfactual), ("--out", args.out)) + tuple(("--policy", p) for p in args.policy):
        if value == "":
            raise BadInput(f"{option}: empty folder name")
    out = args.out if args.out is not None else os.path.join(args.baseline, "figures")
    option_out = "--out" if args.out is not None else "--out (default BASELINE/figures)"
    baseline = read(read_baseline, "BASELINE", args.baseline, "solution.h5")
    counterfactual = None
    if args.counterfactual is not None:
        counterfactual = read(read_counterfactual, "--counterfactual", args.counterfactual, "counterfactual.h5")
    policies = [read(read_policy, "--policy", folder, "policy.h5") for folder in args.policy]
    countries = sorted({p["country"] for p in policies})
    if len(countries) > 1:
        raise BadInput(f"--policy: the folders are for different countries ({', '.join(countries)})")
    if os.path.lexists(out) and not os.path.isdir(out):
        raise BadInput(f"{option_out} {out}: exists and is not a folder")
    made = make_folder(out)
    written = []
    try:
        for draw, data, option in ((draw_baseline, baseline, "BASELINE"), (draw_counterfactual, counterfactual, "--counterfactual"),
                                   (draw_policies, policies or None, "--policy")):
            if data is None:
                continue
            try:
                draw(data, out, written)
            except (ValueError, IndexError, TypeError, KeyError) as e:
                where = data[0]["path"] if isinstance(data, list) else data["path"]
                raise BadInput(f"{option} {where}: unexpected contents ({e})")
    except BaseException:
        remove_made(made)
        raise
    try:
        for w in written:
            print(w)
        sys.stdout.flush()
    except OSError as e:
        # Nothing more can reach standard output: point it at /dev/null so the exit does not try again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise Unwritable(f"standard output: cannot print the names of the figures: {reason(e)}")


def main():
    args = parse(sys.argv[1:])
    missing = missing_modules()
    if missing:
        hand_over(missing)
    global h5py, np, plt
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402
    import numpy as np  # noqa: E402
    try:
        run(args)
    except BadInput as e:
        fail(BAD_INPUT, str(e))
    except Unwritable as e:
        fail(IO_FAILURE, str(e))


if __name__ == "__main__":
    main()
