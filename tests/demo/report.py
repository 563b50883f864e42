#!/usr/bin/env python3
"""report.py - the demo's report: text, JSON and a PNG chart.

    report.py RAW.json OUTDIR

RAW.json is what demo-l1.py (or demo-pseries-l1.py) recorded in the L1:
several runs per build, the base and ours alternating.  Times (to the
first instruction, to drivers bound, in MAP_DMA) are the median and
min-max over a build's runs with a result; the per-device figures come
from one run per build, the one whose time to drivers bound is the
median (the lower one of an even count).  Prints the side-by-side
report and writes
OUTDIR/demo.txt (the same text), OUTDIR/demo.json (the figures of the
report, per build) and OUTDIR/demo.png (ours against the base; needs
python3-matplotlib, else the chart is skipped with one line).

Fields that x-query-vfio gains later (MSI-X and DMA figures) are picked
up as they come: any device-level key or MSI-X key that this script does
not know is listed under "also reported by x-query-vfio".
"""

import json
import os
import statistics
import sys

PAGE = 4096
KNOWN_DEV_KEYS = {"id", "qom-path", "host", "host-page-size", "regions",
                  "bars", "msix"}
KNOWN_MSIX_KEYS = {"entries", "table-bar", "table-offset", "pba-bar",
                   "pba-offset", "emulated", "mappable", "relocated-from",
                   "relocation-auto", "table-page-shared"}


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


def qv_bar(run, dev, index):
    for d in run.get("x_query_vfio") or []:
        if d.get("id") == dev:
            for b in d["bars"]:
                if b["index"] == index:
                    return b
    return None


def qv_dev(run, dev):
    for d in run.get("x_query_vfio") or []:
        if d.get("id") == dev:
            return d
    return None


def bar_state(run, b):
    """(state, why) of one BAR: x-query-vfio's where the build has it
    (its reasons), the flat view's otherwise."""
    q = qv_bar(run, b["device"], b["bar"])
    if q is not None:
        trapped = [r for r in q["ranges"] if r["kind"] == "trapped"]
        if not trapped:
            return "direct", "x-query-vfio: %s" % q["subpage"] \
                if q["subpage"] != "not-subpage" else "x-query-vfio"
        size = sum(r["size"] for r in trapped)
        why = sorted({r.get("reason", "?") for r in trapped})
        return ("trapped %s of %s" % (human(size), human(q["guest-size"])),
                "x-query-vfio: %s" % ", ".join(why))
    n = len(b["pages"])
    if b["direct_pages"] == n:
        return "direct", "flat view"
    state = "trapped" if b["direct_pages"] == 0 else \
        "trapped %d of %d pages" % (n - b["direct_pages"], n)
    return state, "flat view: " + ", ".join(b["why"])


def msix_emulated(run):
    """{device: "yes"/"no" and the source} for the devices with MSI-X:
    x-query-vfio's where the build has it, else whether the flat view has
    an msix-table section in the device's BARs (an enabled table MR)."""
    out = {}
    for d in run.get("x_query_vfio") or []:
        if d.get("msix"):
            out[d["id"]] = ("yes" if d["msix"]["emulated"] else "no") + \
                " (x-query-vfio)"
    if out:
        return out
    for b in run["bars"]:
        if any("msix-table" in n for p in b["pages"] for n in p["sections"]):
            out[b["device"]] = "yes (flat view: msix-table)"
    return out


def spread(values):
    """{"median", "min", "max", "n"} of @values (None left out), or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "n": len(v)}


def prefault_s(run):
    """Seconds x-query-vfio says the build prefaulted RAM (None where it
    does not report it): what moved out of MAP_DMA."""
    for d in run.get("x_query_vfio") or []:
        if isinstance(d.get("dma"), dict) and "prefault-ns" in d["dma"]:
            return d["dma"]["prefault-ns"] / 1e9
    return None


def median_run(runs):
    """The run with a result whose time to drivers bound is the median
    (the lower of the two middle ones), or the last run."""
    ok = sorted((r for r in runs if r["ok"]),
                key=lambda r: r["marks"].get("L2-PROBED", 0))
    return ok[(len(ok) - 1) // 2] if ok else runs[-1]


def summarize(raw):
    out = {"platform": raw.get("platform", "x86"), "firmware": raw["firmware"],
           "devices": raw["devices"], "settings": raw.get("settings"),
           "runs_per_build": raw.get("runs_per_build", 1), "builds": {}}
    names = []
    for run in raw["runs"]:
        if run["name"] not in names:
            names.append(run["name"])
    for name in names:
        runs = [r for r in raw["runs"] if r["name"] == name]
        ok = [r for r in runs if r["ok"]]
        run = median_run(runs)
        s = {"ok": run["ok"], "qemu": run["qemu"], "props": run.get("props", []),
             "runs": len(runs), "runs_ok": len(ok),
             "failed_rounds": [r.get("round", 0) + 1 for r in runs if not r["ok"]],
             "figures_from_run": run.get("round", 0) + 1,
             "first_s": spread([r["marks"].get("FIRST") for r in ok]),
             "ready_s": spread([r["marks"].get("L2-PROBED") for r in ok]),
             "map_dma_s": spread([r["dma"]["map_s"] if r.get("dma") else None
                                  for r in ok]),
             "prefault_s": spread([prefault_s(r) for r in ok]),
             "mmio_exits_kvm_all": spread([r["mmio_exits_kvm"] for r in ok])}
        if run["ok"]:
            s["time_to_ready_s"] = run["marks"].get("L2-PROBED")
            s["run_s"] = run["marks"].get("L2-DONE")
            s["mmio_exits_kvm"] = run["mmio_exits_kvm"]
            s["mmio_exits_traced"] = run["mmio_exits_traced"]
            s["trace_overrun"] = run["trace_overrun"]
            s["bars"] = []
            for b in run["bars"]:
                state, why = bar_state(run, b)
                s["bars"].append({"device": b["device"], "bar": b["bar"],
                                  "size": b["size"], "address": b["address"],
                                  "state": state, "why": why,
                                  "mmio_exits": b["mmio_exits"],
                                  "msix_exits": b.get("msix_exits", 0),
                                  "trapped_pages": len(b["pages"]) - b["direct_pages"],
                                  "msix_pages_trapped": b["msix_pages"]})
            s["msix_pages_trapped"] = sum(b["msix_pages"] for b in run["bars"])
            s["msix_exits"] = sum(b.get("msix_exits", 0) for b in run["bars"])
            s["msi_isolation"] = msi_isolation_line(run)
            s["msix_emulated"] = msix_emulated(run)
            s["dma"] = run["dma"]
            s["pinned_at_ready"] = run.get("pinned_at_ready")
            if "tce_hcalls_kvm" in run:
                s["tce_hcalls_kvm"] = run["tce_hcalls_kvm"]
            extra = {}
            for d in run.get("x_query_vfio") or []:
                for k, v in d.items():
                    if k not in KNOWN_DEV_KEYS:
                        # one entry per distinct value: a container's
                        # figures repeat on each of its devices
                        same = [e for e in extra if e.endswith("." + k) and
                                extra[e] == v]
                        if same:
                            continue
                        extra["%s.%s" % (d.get("id"), k)] = v
                for k, v in (d.get("msix") or {}).items():
                    if k not in KNOWN_MSIX_KEYS:
                        extra["%s.msix.%s" % (d.get("id"), k)] = v
            s["x_query_vfio_extra"] = extra
            s["l2"] = run["l2"]
        else:
            s["console_tail"] = run.get("console_tail")
        out["builds"][name] = s
    return out


def msi_isolation_line(run):
    """info vfio's "MSI isolation:" answer, where the build prints one."""
    for ln in (run.get("info_vfio") or "").splitlines():
        if "MSI isolation:" in ln:
            return ln.split("MSI isolation:", 1)[1].strip()
    return None


def fmt_spread(sp, unit="s", prec=1):
    if sp is None:
        return "n/a"
    if sp["n"] == 1:
        return "%.*f %s" % (prec, sp["median"], unit)
    return "%.*f %s [%.*f-%.*f]" % (prec, sp["median"], unit, prec, sp["min"],
                                    prec, sp["max"])


def text(summary, raw):
    names = list(summary["builds"])
    b = [summary["builds"][n] for n in names]
    w = 30
    lines = []
    pseries = summary["platform"] == "pseries"
    ndev = len(summary["devices"])
    if pseries:
        lines.append("vfio-direct demo, pseries: one Linux L2 (Debian 6.12 ppc64el, 64 KiB "
                     "pages) under nested KVM-HV")
        lines.append("in the pseries test-bed L1, the same %d devices passed through "
                     "(vfio-pci, sPAPR TCE v2), SLOF places the BARs" % ndev)
    else:
        lines.append("vfio-direct demo: one Linux L2 (Debian 6.12) under nested KVM in the "
                     "x86 test-bed L1,")
        lines.append("the same %d devices passed through (vfio-pci in the L1), firmware %s%s" % (
            ndev, summary["firmware"],
            " (Linux places the BARs)" if summary["firmware"] == "qboot" else ""))
    n_runs = summary["runs_per_build"]
    lines.append("%d run%s per build, base and ours alternating: times are the median "
                 "[min-max] of the runs," % (n_runs, "s" if n_runs > 1 else ""))
    lines.append("the other figures come from each build's median run (by time to "
                 "drivers bound): %s" % ", ".join(
                     "%s run %d" % (n, x["figures_from_run"]) for n, x in zip(names, b)))
    st = summary.get("settings")
    if st:
        lines.append("%s ran with %s: %s; MSI isolation in the L1: %s" % (
            st["build"], ",".join(st["props"]) or "the defaults", st["why"],
            st["msi_isolation"]))
    for n, x in zip(names, b):
        if x["failed_rounds"]:
            lines.append("%s: run %s gave no result (left out)" % (
                n, ", ".join(str(k) for k in x["failed_rounds"])))
    lines.append("")
    lines.append("%-28s" % "" + "".join("%-*s" % (w, n) for n in names))

    def row(label, f):
        lines.append("%-28s" % label + "".join(
            "%-*s" % (w, f(x) if x["ok"] else "no result") for x in b))
    row("-device vfio-pci settings", lambda x: ",".join(x["props"]) or "defaults")
    row("first instruction", lambda x: fmt_spread(x["first_s"], prec=2))
    row("drivers bound (ready)", lambda x: fmt_spread(x["ready_s"]))
    row("whole L2 run", lambda x: "%.1f s" % x["run_s"])
    row("MMIO exits (KVM-HV)" if pseries else "MMIO exits (KVM)",
        lambda x: "%d" % x["mmio_exits_kvm"] + (
            " [%d-%d]" % (x["mmio_exits_kvm_all"]["min"], x["mmio_exits_kvm_all"]["max"])
            if x["mmio_exits_kvm_all"]["n"] > 1 else ""))
    row("  at the %d devices' BARs" % ndev,
        lambda x: "%d" % sum(y["mmio_exits"] for y in x["bars"]))
    row("  of those at MSI-X pages", lambda x: "%d" % x["msix_exits"])
    row("MSI-X host pages trapped", lambda x: "%d" % x["msix_pages_trapped"])
    if not pseries:
        row("MSI isolation (info vfio)",
            lambda x: (x["msi_isolation"] or "n/a").split(" (")[0])
    if pseries:
        row("MSI-X tables emulated", lambda x: ", ".join(
            "%s %s" % (d, v.split()[0]) for d, v in sorted(x["msix_emulated"].items()))
            or "none (flat view)")
        row("TCE hcalls in KVM", lambda x: "%d" % sum(x["tce_hcalls_kvm"].values()))
        row("  put/indirect/stuff", lambda x: "%d/%d/%d" % tuple(
            x["tce_hcalls_kvm"].get(k, 0)
            for k in ("put_tce", "put_tce_indirect", "stuff_tce")))
    row("MAP_DMA calls (strace)", lambda x: "%d" % x["dma"]["map"] if x["dma"] else "n/a")
    row("  time in MAP_DMA", lambda x: fmt_spread(x["map_dma_s"], prec=3))
    row("  prefault (x-query-vfio)", lambda x: fmt_spread(x["prefault_s"], prec=3))
    row("UNMAP_DMA calls (strace)", lambda x: "%d" % x["dma"]["unmap"] if x["dma"] else "n/a")
    row("pinned at ready (VmLck)", lambda x: human(x["pinned_at_ready"])
        if x.get("pinned_at_ready") is not None else "n/a")

    def qdma(x, key, fmt):
        for k, v in x.get("x_query_vfio_extra", {}).items():
            if k.endswith(".dma") and isinstance(v, dict) and key in v:
                return fmt(v[key])
        return "n/a"
    row("x-query-vfio dma: maps", lambda x: qdma(x, "map-calls", str))
    row("  map bytes", lambda x: qdma(x, "map-bytes", human))
    row("  time in map", lambda x: qdma(x, "map-ns", lambda v: "%.3f s" % (v / 1e9)))
    row("  live mappings", lambda x: qdma(x, "mappings", str))
    row("  largest mapping", lambda x: qdma(x, "largest-mapping", human))
    lines.append("")
    lines.append("per BAR: where the L2 placed it, direct or trapped (and why), "
                 "MMIO exits during the run")
    if all(x["ok"] for x in b):
        keys = []
        for x in b:
            keys += [(y["device"], y["bar"], y["size"]) for y in x["bars"]
                     if (y["device"], y["bar"], y["size"]) not in keys]
        seen = set()
        for dev, bar, _ in keys:
            if (dev, bar) in seen:
                continue
            seen.add((dev, bar))
            lines.append("  %s BAR%d" % (dev, bar))
            for n, x in zip(names, b):
                for y in x["bars"]:
                    if (y["device"], y["bar"]) == (dev, bar):
                        lines.append("    %-5s %8s @0x%-10x %-26s %5d exits  %s%s" % (
                            n, human(y["size"]), y["address"], y["state"],
                            y["mmio_exits"], y["why"],
                            " (%d at MSI-X pages)" % y["msix_exits"]
                            if y["msix_exits"] else ""))
    for n, x in zip(names, b):
        if x["ok"] and x["x_query_vfio_extra"]:
            lines.append("")
            lines.append("also reported by x-query-vfio (%s):" % n)
            for k, v in sorted(x["x_query_vfio_extra"].items()):
                lines.append("  %s: %s" % (k, json.dumps(v)))
    lines.append("")
    lines.append("what the L2's drivers saw (%s):" % names[-1])
    for ln in b[-1].get("l2", []):
        if ln.startswith(("L2-DEV", "L2-WORK", "L2-TOUCH")):
            lines.append("  " + ln)
    lines.append("")
    if pseries:
        lines.append("Sources: MMIO exits from a kprobe on the L1 kernel's "
                     "kvmppc_hv_emulate_mmio, by BAR address;")
        lines.append("TCE hypercalls from kprobes on KVM's kvmppc_h_put_tce, "
                     "_indirect and kvmppc_h_stuff_tce; BAR state")
        lines.append("from x-query-vfio where the build has it, else the flat view "
                     "(64 KiB pages); DMA calls from strace -T")
        lines.append("of QEMU's main thread, preregistered (locked) bytes from its VmLck. "
                     "MMIO exits outside the")
        lines.append("BARs hit the interrupt controller's pages (XIVE, emulated by QEMU: "
                     "KVM-HV has no in-kernel")
        lines.append("XIVE under nested KVM-HV).  First instruction: the L1 kernel's "
                     "first kvm_hv:kvm_guest_enter into the L2.")
    else:
        lines.append("Sources: MMIO exits from the L1 kernel's kvm:kvm_mmio tracepoint "
                     "by BAR address, total from KVM's")
        lines.append("mmio_exits (query-stats); BAR state from x-query-vfio where the "
                     "build has it, else the flat")
        lines.append("view (info mtree -f); DMA calls from strace -T of QEMU's main thread, "
                     "pinned bytes from its VmLck.")
        lines.append("First instruction: the L1 kernel's first kvm:kvm_entry into the L2. "
                     "The MSI-X table is emulated on")
        lines.append("x86, so its writes exit on every build wherever the table is; "
                     "relocation makes the registers beside it direct.")
    return "\n".join(lines) + "\n"


def chart(summary, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "python3-matplotlib is missing: no chart (scripts/install-deps.sh)"
    names = list(summary["builds"])
    b = [summary["builds"][n] for n in names]
    if not all(x["ok"] for x in b):
        return "a run gave no result: no chart"
    devs = []
    for x in b:
        for y in x["bars"]:
            if y["device"] not in devs:
                devs.append(y["device"])
    colors = {names[0]: "#c0504d", names[-1]: "#4f81bd"}
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6))
    width = 0.8 / len(names)

    def grouped(ax, labels, series, title, fmt="%g", errs=None, parts=None):
        for i, (n, vals) in enumerate(series):
            pos = [j + (i - (len(names) - 1) / 2) * width for j in range(len(labels))]
            bars = ax.bar(pos, vals, width, label=n, color=colors.get(n),
                          yerr=errs[i] if errs else None, capsize=3)
            if parts:
                ax.bar(pos, parts[i], width, color="none", edgecolor="black",
                       hatch="//", linewidth=0,
                       label="at MSI-X pages" if i == len(series) - 1 else None)
            ax.bar_label(bars, fmt=fmt, fontsize=8)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(title)
        ax.margins(y=0.15)
        ax.legend(loc="upper right", fontsize=8)

    def per_dev(x, key):
        return [sum(y[key] for y in x["bars"] if y["device"] == d) for d in devs]
    grouped(axes[0], devs, [(n, per_dev(x, "mmio_exits")) for n, x in zip(names, b)],
            "MMIO exits per device (median run)",
            parts=[per_dev(x, "msix_exits") for x in b])
    grouped(axes[1], devs, [(n, per_dev(x, "trapped_pages")) for n, x in zip(names, b)],
            "trapped host pages in its BARs")
    keys = ("first_s", "ready_s", "map_dma_s", "prefault_s")

    def med(x, k):
        return x[k]["median"] if x[k] else 0

    def err(x, k):
        return (x[k]["median"] - x[k]["min"], x[k]["max"] - x[k]["median"]) \
            if x[k] else (0, 0)
    grouped(axes[2], ["first\ninstruction", "drivers\nbound", "in MAP_DMA",
                      "prefault"],
            [(n, [med(x, k) for k in keys]) for n, x in zip(names, b)],
            "seconds: median, min-max of %d runs" % summary["runs_per_build"],
            fmt="%.2f",
            errs=[[[err(x, k)[0] for k in keys], [err(x, k)[1] for k in keys]]
                  for x in b])
    if summary["platform"] == "pseries":
        grouped(axes[3], ["MMIO exits\n(all)", "TCE hcalls\nin KVM",
                          "MAP_DMA\n(main thread)", "MSI-X pages\ntrapped"],
                [(n, [x["mmio_exits_kvm"], sum(x["tce_hcalls_kvm"].values()),
                      x["dma"]["map"] if x["dma"] else 0,
                      x["msix_pages_trapped"]]) for n, x in zip(names, b)], "counts")
    else:
        grouped(axes[3], ["MAP_DMA\n(main thread)", "UNMAP_DMA\n(main thread)",
                          "MSI-X pages\ntrapped"],
                [(n, [x["dma"]["map"] if x["dma"] else 0,
                      x["dma"]["unmap"] if x["dma"] else 0,
                      x["msix_pages_trapped"]]) for n, x in zip(names, b)], "counts")
    settings = ",".join(b[-1]["props"]) or "defaults"
    if summary["platform"] == "pseries":
        fig.suptitle("vfio-direct demo, pseries (64 KiB pages): %s (%s) vs %s, Linux L2 "
                     "under nested KVM-HV, SLOF" % (names[-1], settings, names[0]))
    else:
        fig.suptitle("vfio-direct demo: %s (%s) vs %s, Linux L2 under nested KVM, "
                     "firmware %s" % (names[-1], settings, names[0], summary["firmware"]))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return None


def main():
    if len(sys.argv) != 3:
        print("usage: report.py RAW.json OUTDIR", file=sys.stderr)
        return 2
    raw = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    summary = summarize(raw)
    t = text(summary, raw)
    sys.stdout.write(t)
    with open(os.path.join(outdir, "demo.txt"), "w") as f:
        f.write(t)
    with open(os.path.join(outdir, "demo.json"), "w") as f:
        json.dump(summary, f, indent=1)
    msg = chart(summary, os.path.join(outdir, "demo.png"))
    if msg:
        print("report.py: " + msg, file=sys.stderr)
    return 0 if all(x["ok"] for x in summary["builds"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
