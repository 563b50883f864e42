# Sphinx configuration of vfio-direct's documentation (make docs).
#
# The QMP reference (introspection.rst) is rendered from the QAPI schema
# by QEMU's own qapi-doc directive, so this loads the Sphinx extensions
# of the unpacked base (build/src/docs/sphinx, and its scripts/qapi) that
# ./configure prepared; VFIO_DIRECT_QEMU_SRC names another tree.

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_src = os.environ.get("VFIO_DIRECT_QEMU_SRC",
                      os.path.join(_here, "..", "build", "src"))
sys.path.insert(0, os.path.join(_src, "docs", "sphinx"))
sys.path.insert(0, os.path.join(_src, "scripts"))

project = "vfio-direct"
master_doc = "index"
extensions = ["qapidoc", "qmp_lexer"]
qapidoc_srctree = _src
exclude_patterns = ["_build"]
html_theme = "sphinx_rtd_theme"
