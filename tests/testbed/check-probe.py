#!/usr/bin/python3
"""check-probe.py - assert on vfio-probe results from the test-bed L1 guests.

    check-probe.py RESULTS_DIR

RESULTS_DIR holds one directory per machine (x86, pseries-a, pseries-b), each
with run-l1.sh's output: devices (NAME=BDF lines), stdout (vfio-probe JSON,
one object per line), rc and timings.  Every check prints "ok - NAME" or
"not ok - NAME"; the last line is "N passed, M failed" and the exit status is
non-zero when anything failed.  These are the kernel facts vfio-direct builds
on (sub-page BAR mmap rules, MSIX_MAPPABLE, IOMMU geometry), so a test-bed
regression shows up here before it confuses a QEMU-level test.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
from tap import Checker  # noqa: E402  (tests/pylib/tap.py)

PAGE_4K = 4096
PAGE_64K = 65536


def region(dev, index):
    for r in dev.get("regions", []):
        if r["index"] == index:
            return r
    return {}


def has_flag(reg, flag):
    return flag in reg.get("flag_names", [])


def caps(reg):
    return [c.get("name", c["id"]) for c in reg.get("caps", [])]


def iommu_cap(dev, name):
    for c in dev.get("iommu", {}).get("caps", []):
        if c.get("name") == name:
            return c
    return None


def load(mdir):
    with open(os.path.join(mdir, "devices")) as f:
        names = dict(line.strip().split("=", 1) for line in f if "=" in line)
    by_bdf = {}
    bad = 0
    try:
        with open(os.path.join(mdir, "stdout")) as f:
            for line in f:
                try:
                    d = json.loads(line)
                    by_bdf[d["bdf"]] = d
                except (ValueError, KeyError):
                    bad += 1
    except OSError:
        pass
    return names, {n: by_bdf.get(b, {}) for n, b in names.items()}, bad


def summary(machine, devs):
    for name, d in devs.items():
        bars = []
        for r in d.get("regions", []):
            if r["index"] > 6 or not r.get("size"):
                continue
            attrs = [r.get("kind", "?")]
            attrs += [f for f in r["flag_names"] if f == "MMAP"] + [str(x) for x in caps(r)]
            if r.get("page_aligned") is False:
                attrs.append("unaligned")
            bars.append(f"{r['name']}={r['size']:#x}:{':'.join(attrs)}")
        print(f"# {machine} {name} {d.get('bdf', '?')} group {d.get('group')}: "
              + " ".join(bars))
    dma = next((d["dma"] for d in devs.values() if "dma" in d), None)
    if dma:
        print(f"# {machine} dma: {json.dumps(dma)}")


def check_common(c, m, names, devs, bad):
    c.check(f"{m}: probe output is one JSON object per bound device",
            bad == 0 and all(devs.values()), f"{bad} unparsable lines")
    for name, d in devs.items():
        c.check(f"{m}: {name} bound to vfio-pci without errors",
                d.get("driver") == "vfio-pci" and "error" not in d
                and "PCI" in d.get("info", {}).get("flag_names", [])
                and d.get("info", {}).get("num_regions", 0) >= 9,
                d.get("error") or d.get("driver"))
    sparse = [n for n, d in devs.items()
              for r in d.get("regions", []) if "SPARSE_MMAP" in caps(r)]
    c.check(f"{m}: no region reports SPARSE_MMAP", not sparse, sparse)


def check_small_bar(c, m, devs, name, size, mappable):
    r = region(devs[name], 0)
    c.check(f"{m}: {name} BAR0 is a {size:#x}-byte memory BAR",
            r.get("size") == size and r.get("kind") == "mem", r.get("size"))
    if mappable:
        c.check(f"{m}: {name} BAR0 has MMAP and the whole host page maps",
                has_flag(r, "MMAP") and r.get("mmap_page_ok") is True,
                r.get("mmap_page_error"))
        c.check(f"{m}: {name} BAR0 mapping of two host pages fails",
                r.get("mmap_2pages_ok") is False)
        c.check(f"{m}: {name} BAR0 register reads the same via mmap and pread",
                r.get("mmap_read") is not None
                and r.get("mmap_read") == r.get("pread_read"),
                f"{r.get('mmap_read')} vs {r.get('pread_read')}")
    else:
        c.check(f"{m}: {name} BAR0 has no MMAP flag and the page mmap fails",
                not has_flag(r, "MMAP") and r.get("mmap_page_ok") is False,
                r.get("flag_names"))


def check_msix(c, m, devs, name, bar, offset, mappable):
    d = devs[name]
    r = region(d, bar)
    x = d.get("msix", {})
    c.check(f"{m}: {name} MSI-X table in BAR{bar} at {offset:#x}",
            x.get("table_bar") == bar and x.get("table_offset") == offset, x)
    c.check(f"{m}: {name} MSI-X table reads as all-ones through pread",
            x.get("table_pread") == "0xffffffff", x.get("table_pread"))
    if mappable:
        c.check(f"{m}: {name} BAR{bar} has MSIX_MAPPABLE and MMAP",
                "MSIX_MAPPABLE" in caps(r) and has_flag(r, "MMAP"), caps(r))
        c.check(f"{m}: {name} MSI-X table page maps",
                x.get("table_mmap_ok") is True, x.get("table_mmap_error"))
    else:
        c.check(f"{m}: {name} BAR{bar} has neither MSIX_MAPPABLE nor MMAP",
                "MSIX_MAPPABLE" not in caps(r) and not has_flag(r, "MMAP"),
                r.get("flag_names"))
        c.check(f"{m}: {name} MSI-X table page does not map",
                x.get("table_mmap_ok") is False)


def check_x86(c, m, devs):
    c.check(f"{m}: host page size is 4 KiB",
            all(d.get("page_size") == PAGE_4K for d in devs.values()))
    groups = [d.get("group") for d in devs.values()]
    c.check(f"{m}: every device has its own IOMMU group",
            len(set(groups)) == len(groups), groups)
    for name, size in (("sdhci", 0x100), ("i6300esb", 0x10), ("pvpanic", 0x10)):
        check_small_bar(c, m, devs, name, size, True)
    t = devs["testdev"]
    c.check(f"{m}: testdev BAR0 4 KiB memory with MMAP, BAR1 I/O without",
            region(t, 0).get("size") == PAGE_4K and has_flag(region(t, 0), "MMAP")
            and region(t, 1).get("kind") == "io" and not has_flag(region(t, 1), "MMAP"))
    check_msix(c, m, devs, "e1000e", 3, 0, True)
    c.check(f"{m}: e1000e has 5 MSI-X vectors",
            devs["e1000e"].get("msix", {}).get("entries") == 5)
    check_msix(c, m, devs, "nvme", 0, 0x2000, True)
    check_msix(c, m, devs, "xhci", 0, 0x3000, True)

    io = devs["sdhci"].get("iommu", {})
    c.check(f"{m}: IOMMU is TYPE1v2", io.get("type") == "TYPE1v2", io.get("type"))
    pg = io.get("iova_pgsizes", 0)
    c.check(f"{m}: type1 iova_pgsizes include 4K and 2M",
            pg & PAGE_4K and pg & (2 << 20), io.get("iova_pgsize_names"))
    avail = iommu_cap(devs["sdhci"], "DMA_AVAIL")
    c.check(f"{m}: type1 reports DMA_AVAIL", avail and avail.get("avail", 0) > 0, avail)
    rng = iommu_cap(devs["sdhci"], "IOVA_RANGE")
    c.check(f"{m}: type1 reports IOVA ranges", rng and rng.get("ranges"), rng)
    dma = next((d["dma"] for d in devs.values() if "dma" in d), {})
    for kind in ("anon", "prefaulted", "hugetlb_2m"):
        c.check(f"{m}: DMA map/unmap of 64 MiB {kind}",
                "map_us" in dma.get(kind, {}) and "unmap_us" in dma.get(kind, {}),
                dma.get(kind))
    s = dma.get("small", {})
    c.check(f"{m}: {s.get('count')} x 4 KiB DMA maps all succeed",
            s.get("count") and s.get("mapped") == s.get("count") and "error" not in s, s)


def check_spapr(c, m, devs):
    c.check(f"{m}: host page size is 64 KiB",
            all(d.get("page_size") == PAGE_64K for d in devs.values()))
    groups = {d.get("group") for d in devs.values()}
    c.check(f"{m}: the devices share the PHB's IOMMU group", len(groups) == 1, groups)
    io = next(iter(devs.values())).get("iommu", {})
    c.check(f"{m}: IOMMU is SPAPR_TCE_v2", io.get("type") == "SPAPR_TCE_v2", io.get("type"))
    c.check(f"{m}: sPAPR default DMA32 window present",
            io.get("dma32_window_size", 0) > 0, io.get("dma32_window_size"))
    ddw = io.get("ddw_info", {})
    c.check(f"{m}: sPAPR DDW offers 64K pages and a dynamic window",
            io.get("ddw") and ddw.get("pgsizes", 0) & PAGE_64K
            and ddw.get("max_dynamic_windows_supported", 0) >= 1, ddw)
    dma = next((d["dma"] for d in devs.values() if "dma" in d), {})
    c.check(f"{m}: sPAPR memory preregistration works", "register_us" in dma, dma)
    reg = dma.get("registered", {})
    c.check(f"{m}: DMA map/unmap of 64 MiB in the default window",
            "map_us" in reg and "unmap_us" in reg, reg)
    s = dma.get("small", {})
    c.check(f"{m}: {s.get('count')} x 64 KiB DMA maps all succeed",
            s.get("count") and s.get("mapped") == s.get("count") and "error" not in s, s)


def check_pseries_a(c, m, devs):
    check_spapr(c, m, devs)
    unaligned = [f"{n}:{r['name']}" for n, d in devs.items() for r in d.get("regions", [])
                 if r.get("kind") == "mem" and not r.get("page_aligned")]
    c.check(f"{m}: every memory BAR starts on its own 64 KiB page", not unaligned, unaligned)
    for name, size in (("sdhci", 0x100), ("i6300esb", 0x10), ("pvpanic", 0x10)):
        check_small_bar(c, m, devs, name, size, True)
    check_msix(c, m, devs, "e1000e", 3, 0, True)
    check_msix(c, m, devs, "nvme", 0, 0x2000, True)
    check_msix(c, m, devs, "xhci", 0, 0x3000, True)


def check_pseries_b(c, m, devs):
    check_spapr(c, m, devs)
    sd, e3 = region(devs["sdhci"], 0), region(devs["e1000e"], 3)
    same = (sd.get("phys") and e3.get("phys")
            and int(sd["phys"], 16) // PAGE_64K == int(e3["phys"], 16) // PAGE_64K)
    c.check(f"{m}: sdhci BAR0 shares a 64 KiB page with e1000e BAR3",
            same, f"{sd.get('phys')} {e3.get('phys')}")
    check_small_bar(c, m, devs, "sdhci", 0x100, False)
    check_msix(c, m, devs, "e1000e", 3, 0, False)
    for name, size in (("i6300esb", 0x10), ("pvpanic", 0x10)):
        check_small_bar(c, m, devs, name, size, True)
    check_msix(c, m, devs, "nvme", 0, 0x2000, True)


CHECKS = {"x86": check_x86, "pseries-a": check_pseries_a, "pseries-b": check_pseries_b}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    top = sys.argv[1]
    c = Checker()
    for m, fn in CHECKS.items():
        mdir = os.path.join(top, m)
        if not os.path.isdir(mdir):
            continue
        try:
            with open(os.path.join(mdir, "rc")) as f:
                rc = f.read().strip()
        except OSError:
            rc = "none"
        if not c.check(f"{m}: L1 booted and vfio-probe exited 0", rc == "0", f"rc {rc}"):
            continue
        names, devs, bad = load(mdir)
        summary(m, devs)
        check_common(c, m, names, devs, bad)
        try:
            fn(c, m, devs)
        except (KeyError, TypeError, ValueError) as e:
            c.check(f"{m}: probe output has the expected shape", False, repr(e))
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed or not c.passed else 0


if __name__ == "__main__":
    sys.exit(main())
