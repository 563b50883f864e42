#!/usr/bin/python3
"""check-kernel.py - judge the kernel series' L1 runs (check-kernel.sh).

    check-kernel.py OUT

OUT holds one directory per L1 run (ours-remap, ours-noremap,
stock-noremap, testbed-stock, pseries-a, pseries-b, pseries-a-stock, and
with an image k1-keepsize, k1-named-qboot, k1-all, k1-none,
stock-resize), each with run-l1.sh's devices, rc and stdout
(tests/kernel/l1-probe.sh: sections, vfio-kcheck JSON); with an image
also iommufd.log and iommufd.rc (tests/kernel/l1-iommufd.sh in the image's
L1: our QEMU on iommufd).  Runs that are absent are not judged.  Prints "ok - ..." / "not ok - ..." lines and
"N passed, M failed"; exits non-zero when anything failed.

The expectations are the series' claims, against independent oracles:
the capability chain and the mmap results from the kernel's uAPI, the
addresses from sysfs and /proc/iomem, the IRQ-remapping state from the
kernel log.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
from tap import Checker  # noqa: E402  (tests/pylib/tap.py)

PAGE = 4096
CAP_SPARSE, CAP_MSIX_MAPPABLE, CAP_SPAN = 1, 3, 6


class Run:
    def __init__(self, path):
        self.sections = {}
        cur = None
        with open(os.path.join(path, "stdout"), errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("=== "):
                    cur = line[4:]
                    self.sections[cur] = []
                elif cur:
                    self.sections[cur].append(line)
        self.bars, self.iomem = [], []
        self.page = PAGE
        for line in self.sections.get("kcheck", []):
            if not line.startswith("{"):
                continue
            obj = json.loads(line)
            if "page" in obj:
                self.page = obj["page"]
            elif "iomem" in obj:
                self.iomem = obj["iomem"]
            else:
                self.bars.append(obj)
        self.devices = {}
        with open(os.path.join(path, "devices")) as f:
            for line in f:
                name, bdf = line.strip().split("=")
                self.devices[name] = bdf
        with open(os.path.join(path, "rc")) as f:
            self.rc = f.read().strip()

    def text(self, section):
        return "\n".join(self.sections.get(section, []))

    def bar(self, name, index=0):
        for b in self.bars:
            if b["bdf"] == self.devices[name] and b["bar"] == index:
                return b
        return None


def caps(bar, cid):
    return [c for c in bar["caps"] if c["id"] == cid]


def mem_bars(run):
    """Memory BARs (those vfio-kcheck found in /proc/iomem)."""
    starts = {(e[0], e[3]) for e in run.iomem}
    return [b for b in run.bars if (b["phys"], b["bdf"]) in starts]


def reserved_after(run, bar):
    """The "vfio sub-page reserved" entry right after a BAR, or None."""
    for s, e, _, name in run.iomem:
        if name == "vfio sub-page reserved" and s == bar["phys"] + bar["size"]:
            return (s, e)
    return None


def span_exclusive(run, bar, cap):
    """Every iomem entry at the BAR's depth in the span is the BAR's own
    or its reserved remainder; returns the offenders."""
    lo = bar["phys"] - cap["offset"]
    hi = lo + cap["span"] - 1
    depth = [e[2] for e in run.iomem if e[0] == bar["phys"] and e[3] == bar["bdf"]][0]
    bad = []
    for s, e, d, name in run.iomem:
        if d != depth or e < lo or s > hi:
            continue
        if s == bar["phys"] and name == bar["bdf"]:
            continue
        if name == "vfio sub-page reserved" and s == bar["phys"] + bar["size"] and e == hi:
            continue
        bad.append(f"{s:#x}-{e:#x} {name}")
    return bad


def expected_areas(bar, page=PAGE):
    """The BAR's pages outside the MSI-X table's pages."""
    size = -(-bar["size"] // page) * page
    t0 = bar["msix"]["offset"] // page * page
    t1 = -(-(bar["msix"]["offset"] + bar["msix"]["size"]) // page) * page
    areas = []
    if t0 > 0:
        areas.append([0, t0])
    if t1 < size:
        areas.append([t1, size - t1])
    return areas


def check_common(c, name, run):
    c.check(f"{name}: the L1 run succeeded", run.rc == "0", f"rc {run.rc}")
    c.check(f"{name}: vfio-kcheck saw the devices and /proc/iomem",
            len(run.bars) >= len(run.devices) and run.iomem)


def check_msix(c, name, run, isolated):
    msix = [b for b in run.bars if "msix" in b]
    c.check(f"{name}: MSI-X BARs found (e1000e, nvme, xhci)", len(msix) >= 3, len(msix))
    for b in msix:
        what = f"{name}: {b['bdf']} BAR{b['bar']}"
        if "MMAP" not in b["flags"]:
            # The kernel maps no part of a BAR whose page is shared.
            c.check(f"{what}: no MMAP, so no MSIX_MAPPABLE",
                    not caps(b, CAP_MSIX_MAPPABLE), b["caps"])
        elif isolated:
            c.check(f"{what}: MSIX_MAPPABLE, no sparse areas",
                    caps(b, CAP_MSIX_MAPPABLE) and not caps(b, CAP_SPARSE), b["caps"])
            c.check(f"{what}: the table's page maps", b["msix"]["mmap_table_page"] == "ok",
                    b["msix"]["mmap_table_page"])
        else:
            c.check(f"{what}: no MSIX_MAPPABLE", not caps(b, CAP_MSIX_MAPPABLE), b["caps"])
            sp = caps(b, CAP_SPARSE)
            got = [a[:2] for a in sp[0]["areas"]] if sp else None
            want = expected_areas(b, run.page)
            c.check(f"{what}: sparse areas are the BAR less the table's pages",
                    got == want, f"got {got}, want {want}")
            c.check(f"{what}: every sparse area maps",
                    sp and all(a[2] == "ok" for a in sp[0]["areas"]), sp)
            c.check(f"{what}: an mmap of the table's page is refused (EPERM)",
                    b["msix"]["mmap_table_page"] == "EPERM", b["msix"]["mmap_table_page"])
            c.check(f"{what}: an mmap of the whole BAR is refused",
                    b.get("mmap_region") == "EPERM", b.get("mmap_region"))


def check_span(c, name, run, want=("sdhci", "i6300esb")):
    """K3: a span capability exactly on the mmap-able sub-page BARs."""
    page = run.page
    for b in mem_bars(run):
        what = f"{name}: {b['bdf']} BAR{b['bar']} ({b['size']} bytes)"
        sp = caps(b, CAP_SPAN)
        if b["size"] >= page or "MMAP" not in b["flags"]:
            c.check(f"{what}: no span capability", not sp, sp)
            continue
        if not c.check(f"{what}: one span capability", len(sp) == 1, b["caps"]):
            continue
        s = sp[0]
        c.check(f"{what}: span is the page, offset the BAR's in it, exclusive",
                s["span"] == page and s["offset"] == b["phys"] % page and s["span_flags"] & 1, s)
        c.check(f"{what}: the span maps", s["mmap_span"] == "ok", s["mmap_span"])
        bad = span_exclusive(run, b, s)
        c.check(f"{what}: no other resource in the span (/proc/iomem)", not bad, bad)
    for n in want:
        b = run.bar(n)
        c.check(f"{name}: {n} reports a span", b and caps(b, CAP_SPAN), b and b["caps"])


def stats_lines(run, section):
    return [json.loads(line) for line in run.sections.get(section, []) if line.startswith("{")]


def hist_delta(case):
    b, a = case["before"]["hist"], case["after"]["hist"]
    d = {k: v - b.get(k, 0) for k, v in a.items() if v != b.get(k, 0)}
    return d


def check_type1_stats(c, name, run):
    """K5: the statistics capability against pagemap, sysfs and VmLck."""
    for section, per_page in (("type1-stats", False), ("type1-stats-nohuge", True)):
        what = f"{name}: {section}"
        lines = stats_lines(run, section)
        if not c.check(f"{what}: the capability is present", lines and
                       lines[0].get("stats") == "present", lines[:1]):
            continue
        cases = {ln["case"]: ln for ln in lines if "case" in ln}
        c.check(f"{what}: every case ran", set(cases) >= {"anon-4k", "thp", "hugetlb", "bar",
                                                          "unmapped"}, sorted(cases))
        entries = 0
        for cn in ("anon-4k", "thp", "hugetlb", "bar"):
            k = cases.get(cn)
            if not k or "after" not in k:
                continue
            b, a = k["before"], k["after"]
            d = hist_delta(k)
            entries += 1
            c.check(f"{what}: {cn}: runs handed to iommu_map are pagemap's "
                    f"{k['want_hist']}", d == k["want_hist"], d)
            c.check(f"{what}: {cn}: one iommu_map call per run",
                    a["map_calls"] - b["map_calls"] == sum(d.values()), (b, a))
            c.check(f"{what}: {cn}: runs cover the {k['pages']} pages",
                    sum(v << int(i) for i, v in d.items()) <= k["pages"] <
                    sum(v * (2 << int(i)) for i, v in d.items()), d)
            c.check(f"{what}: {cn}: dma_entries {entries}", a["dma_entries"] == entries, a)
            pinned, pfnmap = a["pinned"] - b["pinned"], a["pfnmap"] - b["pfnmap"]
            if cn == "bar":
                c.check(f"{what}: bar: {k['pages']} pfnmap pages, none pinned, VmLck unchanged",
                        pfnmap == k["pages"] and pinned == 0 and k["vmlck_kb"] == 0,
                        (pinned, pfnmap, k["vmlck_kb"]))
            else:
                c.check(f"{what}: {cn}: {k['pages']} pinned pages, VmLck grew by as much",
                        pinned == k["pages"] and pfnmap == 0 and
                        k["vmlck_kb"] * 1024 == pinned * 4096, (pinned, pfnmap, k["vmlck_kb"]))
            if per_page:
                c.check(f"{what}: {cn}: disable_hugepages: every run is one page",
                        d == {"0": k["pages"]}, d)
            elif cn in ("thp", "hugetlb"):
                c.check(f"{what}: {cn}: every run is 2 MiB or more (bucket >= 9)",
                        d and all(int(i) >= 9 for i in d), d)
            elif cn == "bar":
                c.check(f"{what}: bar: the whole BAR in one run", d == {"5": 1}, d)
        k = cases.get("thp")
        if k:
            c.check(f"{what}: thp: the buffer is all transparent huge pages (smaps)",
                    k.get("anon_huge_kb") == k["pages"] * 4, k.get("anon_huge_kb"))
        k = cases.get("unmapped")
        if k:
            a = k["after"]
            c.check(f"{what}: after UNMAP_DMA all: no entries, nothing pinned or mapped, "
                    f"VmLck back", a["dma_entries"] == 0 and a["pinned"] == 0 and
                    a["pfnmap"] == 0 and k["vmlck_kb"] * 1024 == -(512 + 2048 + 1024) * 4096, k)


def check_peer_bar(c, name, run, revokes):
    """K4: edu A's DMA into edu B's BAR through type1, around B's zaps."""
    st = {ln["step"]: ln for ln in stats_lines(run, "peer-bar")}
    if not c.check(f"{name}: peer-bar: every step ran",
                   set(st) >= {"baseline", "decode-off", "decode-on", "unmap", "reset", "close",
                               "close-unmap"}, sorted(st)):
        return
    b = st["baseline"]
    c.check(f"{name}: peer-bar: edu A's DMA reaches edu B's BAR through the IOMMU",
            b["landed"] and b["faults_b"] == 0, b)
    for k in ("unmap", "close-unmap"):
        c.check(f"{name}: peer-bar: {k}: UNMAP_DMA of B's IOVA succeeds", st[k]["unmap"] == 0, st[k])
    c.check(f"{name}: peer-bar: nvme's VFIO_DEVICE_RESET works", st["reset"].get("reset") == 0,
            st["reset"])
    if revokes:
        c.check(f"{name}: peer-bar: B's 1 MiB BAR mapped as 256 pfnmap pages",
                b["pfnmap"] == 256 and b["revoked"] == 0, b)
        d = st["decode-off"]
        c.check(f"{name}: peer-bar: decode off revokes: revoked 1, no pfnmap pages, DMA faults",
                d["revoked"] == 1 and d["pfnmap"] == 0 and d["faults_b"] >= 1, d)
        d = st["decode-on"]
        c.check(f"{name}: peer-bar: decode on again: the mapping stays revoked, DMA faults",
                not d["landed"] and d["faults_b"] > st["decode-off"]["faults_b"], d)
        c.check(f"{name}: peer-bar: the unmap leaves RAM's entry only",
                st["unmap"]["dma_entries"] == 1, st["unmap"])
        d = st["reset"]
        c.check(f"{name}: peer-bar: nvme's reset revokes its BAR's mapping, DMA faults",
                d["revoked"] == 2 and d["faults_reset"] >= 1, d)
        d = st["close"]
        c.check(f"{name}: peer-bar: munmap and close of B revoke, A's DMA does not reach B",
                d["revoked"] == 3 and not d["landed"], d)
        c.check(f"{name}: peer-bar: the entries are back to RAM's",
                st["close-unmap"]["dma_entries"] == 1, st["close-unmap"])
    else:
        # Stock type1: the IOMMU keeps mapping B's BAR whatever B does.
        c.check(f"{name}: peer-bar: stock: after decode off and on, A's DMA still lands",
                st["decode-on"]["landed"], st["decode-on"])
        c.check(f"{name}: peer-bar: stock: after B's fd was closed, A's DMA still lands",
                st["close"]["landed"], st["close"])
        c.check(f"{name}: peer-bar: stock: no DMAR fault",
                st["close-unmap"]["faults_b"] == 0 and st["close-unmap"]["faults_reset"] == 0,
                st["close-unmap"])


def check_no_type1_stats(c, name, run):
    lines = stats_lines(run, "type1-stats")
    c.check(f"{name}: type1 has no statistics capability", lines == [{"stats": None}], lines)


def check_no_span(c, name, run):
    c.check(f"{name}: no BAR reports a span capability",
            not any(caps(b, CAP_SPAN) for b in run.bars))


def check_aligned(c, name, run, devs, sizes):
    for n in devs:
        b = run.bar(n)
        if not c.check(f"{name}: {n} BAR0 present", b is not None):
            continue
        c.check(f"{name}: {n} BAR0 starts a page ({b['phys']:#x})", b["phys"] % PAGE == 0)
        c.check(f"{name}: {n} BAR0 keeps its size {sizes[n]}", b["size"] == sizes[n], b["size"])
        c.check(f"{name}: {n} BAR0 is MMAP", "MMAP" in b["flags"], b["flags"])
        c.check(f"{name}: {n} BAR0 has its page's rest reserved", reserved_after(run, b))


SIZES = {"sdhci": 256, "i6300esb": 16, "pvpanic": 16}
PSERIES_PAGE = 65536


def check_pseries(c, runs):
    """K2 and K3 on 64 KiB pages (sPAPR TCE): every BAR below 64 KiB is
    sub-page there, the 16 KiB MSI-X BARs of e1000e, nvme and xhci too."""
    for name in ("pseries-a", "pseries-b", "pseries-a-stock"):
        r = runs.get(name)
        if not r:
            continue
        c.check(f"{name}: the +deb12 powerpc64le-64k image, 64 KiB pages",
                r.text("release").endswith("+deb12-powerpc64le-64k") and
                r.text("machine") == "ppc64le" and r.page == PSERIES_PAGE,
                (r.text("release"), r.text("machine"), r.page))
        # K2: sPAPR isolates MSIs per PE; the table stays mappable as on
        # the stock modules, and no sparse areas take the BAR away: on
        # 64 KiB pages the table's page is the whole 16 KiB BAR.
        check_msix(c, name, r, True)
        for b in r.bars:
            if "msix" in b and "MMAP" in b["flags"]:
                c.check(f"{name}: {b['bdf']} BAR{b['bar']}: the whole MSI-X BAR maps",
                        b.get("mmap_region") == "ok", b.get("mmap_region"))
    r = runs.get("pseries-a")
    if r:
        check_span(c, "pseries-a", r, want=("sdhci", "i6300esb", "pvpanic", "testdev",
                                            "nvme", "xhci", "eepro100"))
        b = r.bar("e1000e", 3)
        c.check("pseries-a: e1000e BAR3 (16 KiB, MSI-X) reports its span",
                b and caps(b, CAP_SPAN), b and b["caps"])
    r = runs.get("pseries-b")
    if r:
        # sdhci's 256 bytes share e1000e BAR3's page: neither is mappable.
        for n, i in (("sdhci", 0), ("e1000e", 3)):
            b = r.bar(n, i)
            c.check(f"pseries-b: {n} BAR{i} shares its page: no MMAP, no span",
                    b and "MMAP" not in b["flags"] and not caps(b, CAP_SPAN), b)
        check_span(c, "pseries-b", r, want=("i6300esb", "pvpanic", "nvme", "xhci"))
    r = runs.get("pseries-a-stock")
    if r:
        check_no_span(c, "pseries-a-stock", r)


MAP_DMA, UNMAP_DMA = "0x3b71", "0x3b72"
IOAS_MAP, IOAS_UNMAP = "0x3b85", "0x3b86"


def sections(path):
    out, cur = {}, None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("=== "):
                cur = line[4:]
                out[cur] = []
            elif cur:
                out[cur].append(line)
    return out


def check_iommufd_dma(c, one, other):
    """One backend's QEMU (iommufd-dma.py) against the kernel: the nodes it
    holds, its ioctls (strace), VmLck and VmPin; @other is the other
    backend's line, for the plan."""
    b = one["backend"]
    what = f"iommufd: {b} QEMU"
    if not c.check(f"{what} started and answered", "error" not in one, one.get("error")):
        return
    nodes, dma, st, io = one["nodes"], one.get("dma") or {}, one["status"], one["ioctls"] or {}
    held = dma.get("map-bytes", -1) - dma.get("unmap-bytes", 0)
    ok = lambda code: io.get(code, [0, 0])[0]  # noqa: E731
    failed = lambda code: io.get(code, [0, 0])[1]  # noqa: E731
    maps = dma.get("map-calls", -1)
    if b == "type1":
        c.check(f"{what}: holds its group and a container, not /dev/iommu or a cdev",
                "/dev/vfio/vfio" in nodes and "/dev/iommu" not in nodes and
                not any(n.startswith("/dev/vfio/devices/") for n in nodes), nodes)
        c.check(f"{what}: every map-call is one MAP_DMA, no IOAS_MAP (strace)",
                maps > 0 and ok(MAP_DMA) + failed(MAP_DMA) == maps and not ok(IOAS_MAP),
                (maps, io))
        c.check(f"{what}: type1 accounts the mapped bytes in VmLck, not VmPin",
                st["VmLck"] * 1024 == held > 0 and st["VmPin"] == 0, (held, st))
        c.check(f"{what}: DMA_AVAIL and type1's statistics (K5) are reported",
                "dma-avail" in dma and "kernel" in dma, sorted(dma))
        return
    c.check(f"{what}: holds /dev/iommu and the device's cdev, no group or container",
            "/dev/iommu" in nodes and
            any(n.startswith("/dev/vfio/devices/vfio") for n in nodes) and
            not any(n == "/dev/vfio/vfio" or n[len("/dev/vfio/"):].isdigit() for n in nodes),
            nodes)
    c.check(f"{what}: every map-call is one IOMMU_IOAS_MAP, no MAP_DMA (strace)",
            maps > 0 and ok(IOAS_MAP) + failed(IOAS_MAP) == maps and
            failed(IOAS_MAP) == dma.get("map-failures") and
            not ok(MAP_DMA) + failed(MAP_DMA), (maps, io))
    c.check(f"{what}: every unmap-call is one IOMMU_IOAS_UNMAP (strace)",
            ok(IOAS_UNMAP) + failed(IOAS_UNMAP) == dma.get("unmap-calls"),
            (dma.get("unmap-calls"), io))
    # iommufd charges pinned pages to mm->pinned_vm (VmPin), and its rlimit
    # accounting (none with CAP_IPC_LOCK, else the user's locked_vm) never
    # touches the process's VmLck.
    c.check(f"{what}: iommufd accounts the mapped bytes in VmPin, VmLck stays 0",
            st["VmPin"] * 1024 == held > 0 and st["VmLck"] == 0, (held, st))
    c.check(f"{what}: no DMA_AVAIL and no type1 statistics (iommufd has neither)",
            "dma-avail" not in dma and "kernel" not in dma, sorted(dma))
    # QEMU sets dma_max_mappings (dma-limit) from type1's DMA_AVAIL only;
    # iommufd has no entry limit and leaves it 0.
    c.check(f"{what}: dma-limit is 0 (iommufd states no limit), info vfio says so",
            dma.get("dma-limit") == 0 and
            "no limit stated" in (one.get("dma_line") or ""),
            (dma.get("dma-limit"), one.get("dma_line")))
    o = (other or {}).get("dma") or {}
    c.check(f"{what}: the planner made the same plan as on type1 (calls, bytes, mappings)",
            dma.get("planner") and o and
            all(dma.get(k) == o.get(k) for k in ("map-calls", "map-bytes", "unmap-calls",
                                                  "unmap-bytes", "mappings")),
            {k: (dma.get(k), o.get(k)) for k in ("map-calls", "map-bytes", "unmap-calls",
                                                 "unmap-bytes", "mappings")})


def check_iommufd(c, out):
    """Our QEMU on iommufd in the image's L1 (l1-iommufd.sh)."""
    log = os.path.join(out, "iommufd.log")
    if not os.path.exists(log):
        return
    with open(os.path.join(out, "iommufd.rc")) as f:
        c.check("iommufd: the image's L1 ran l1-iommufd.sh", f.read().strip() == "0")
    sec = sections(log)
    nodes = sec.get("nodes", [])
    c.check("iommufd: the image offers /dev/iommu and keeps /dev/vfio/vfio (type1)",
            "/dev/iommu" in nodes and "/dev/vfio/vfio" in nodes, nodes)
    devs = [ln for ln in nodes if not ln.startswith(("/dev/", "no "))]
    c.check("iommufd: every bound device has a VFIO cdev (vfio-dev/vfioN)",
            devs and all(" vfio" in ln for ln in devs), devs)
    dma = {}
    for line in sec.get("iommufd-dma", []):
        if line.startswith("{"):
            obj = json.loads(line)
            dma[obj.get("backend")] = obj
    for b in ("type1", "iommufd"):
        if c.check(f"iommufd: iommufd-dma.py ran the {b} QEMU", b in dma, sorted(dma)):
            check_iommufd_dma(c, dma[b], dma.get("type1" if b == "iommufd" else "iommufd"))
    tap = [ln for ln in sec.get("qtests", []) if ln.startswith(("ok ", "not ok "))]
    c.check("iommufd: the vfio qtests ran on iommufd", tap, sec.get("qtests"))
    for ln in tap:
        # A skip is a failure: the image's L1 binds every device they need.
        c.check(f"iommufd: qtest {ln.split(' - ', 1)[1]}",
                ln.startswith("ok ") and "# SKIP" not in ln)


def main():
    out = sys.argv[1]
    c = Checker()
    runs = {}
    for name in sorted(os.listdir(out)):
        if os.path.exists(os.path.join(out, name, "stdout")):
            runs[name] = Run(os.path.join(out, name))
        elif os.path.isdir(os.path.join(out, name)):
            c.check(f"{name}: the L1 gave a result", False)
    for name, run in runs.items():
        check_common(c, name, run)
    r = runs.get("ours-remap")
    if r:
        c.check("ours-remap: runs our modules on the +deb12 image",
                r.text("release").endswith("+deb12-amd64"))
        c.check("ours-remap: IRQ remapping on", "Enabled IRQ remapping" in r.text("dmesg"))
        check_msix(c, "ours-remap", r, True)
        check_span(c, "ours-remap", r)
        check_type1_stats(c, "ours-remap", r)
        check_peer_bar(c, "ours-remap", r, True)
    r = runs.get("ours-noremap")
    if r:
        c.check("ours-noremap: IRQ remapping off", "Enabled IRQ remapping" not in r.text("dmesg"))
        c.check("ours-noremap: allow_unsafe_interrupts set", r.text("allow_unsafe_interrupts") == "Y")
        check_msix(c, "ours-noremap", r, False)
        check_span(c, "ours-noremap", r)
        check_type1_stats(c, "ours-noremap", r)
        check_peer_bar(c, "ours-noremap", r, True)
    r = runs.get("stock-noremap")
    if r:
        c.check("stock-noremap: IRQ remapping off", "Enabled IRQ remapping" not in r.text("dmesg"))
        # Stock vfio-pci maps the table without isolated MSI: what K2 changes.
        check_msix(c, "stock-noremap", r, True)
        check_no_span(c, "stock-noremap", r)
        check_no_type1_stats(c, "stock-noremap", r)
        check_peer_bar(c, "stock-noremap", r, False)
    r = runs.get("testbed-stock")
    if r:
        c.check("testbed-stock: the test bed's trixie kernel", r.text("release").endswith("+deb13-amd64"))
        check_no_span(c, "testbed-stock", r)
        b = r.bar("sdhci")
        c.check("testbed-stock: sdhci MMAP without a span capability (QEMU's fallback)",
                b and "MMAP" in b["flags"])
        check_msix(c, "testbed-stock", r, True)
        check_no_type1_stats(c, "testbed-stock", r)
        check_peer_bar(c, "testbed-stock", r, False)
    check_pseries(c, runs)
    r = runs.get("k1-keepsize")
    if r:
        c.check("k1-keepsize: the kernel keeps the sizes while aligning",
                r.text("dmesg").count("requesting alignment to 0x1000, keeping its size") >= 2,
                r.text("dmesg"))
        check_aligned(c, "k1-keepsize", r, ["sdhci", "i6300esb"], SIZES)
        check_span(c, "k1-keepsize", r)
    r = runs.get("k1-named-qboot")
    if r:
        # The kernel places every BAR here: the named BARs start a page and
        # keep their size, but an unnamed small BAR may follow in the page
        # (only keepsize:* makes every page exclusive).
        for n in ("sdhci", "i6300esb"):
            b = r.bar(n)
            c.check(f"k1-named-qboot: {n} BAR0 starts a page and keeps its size {SIZES[n]}",
                    b and b["phys"] % PAGE == 0 and b["size"] == SIZES[n], b)
    r = runs.get("k1-all")
    if r:
        check_aligned(c, "k1-all", r, ["sdhci", "i6300esb", "pvpanic"], SIZES)
        b = r.bar("testdev", 2)
        c.check("k1-all: testdev BAR2 (2 KiB) starts a page and is MMAP",
                b and b["phys"] % PAGE == 0 and b["size"] == 2048 and "MMAP" in b["flags"], b)
        check_span(c, "k1-all", r, want=("sdhci", "i6300esb", "pvpanic"))
    r = runs.get("k1-none")
    if r:
        for n in ("sdhci", "i6300esb"):
            b = r.bar(n)
            c.check(f"k1-none: {n} packed by the kernel: no MMAP, nothing reserved, no span",
                    b and "MMAP" not in b["flags"] and not reserved_after(r, b)
                    and not caps(b, CAP_SPAN), b)
    r = runs.get("stock-resize")
    if r:
        for n in ("sdhci", "i6300esb"):
            b = r.bar(n)
            c.check(f"stock-resize: the old form grows {n} BAR0 to a page (region size {PAGE})",
                    b and b["size"] == PAGE, b and b["size"])
    check_iommufd(c, out)
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed or not c.passed else 0


if __name__ == "__main__":
    sys.exit(main())
