"""Builds the natgrad Python package offline from this repository, for pip:

    python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-build-isolation --no-index ./python

(scripts/install_python.sh does both). The extension natgrad._natgrad is compiled from the
library's own sources (../src) with the extension's (src/), so the installed module needs
only Debian's shared libraries at run time: OpenBLAS, zlib, and libmujoco when
libmujoco-dev was installed at build time (the MuJoCo models are embedded, as CMake's
build does in cmake/mujoco.cmake). Build needs: python3-dev python3-numpy
python3-setuptools python3-wheel python3-pip, gcc, libopenblas-dev, zlib1g-dev.
"""
import glob
import os

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HAVE_MUJOCO = os.path.exists("/usr/include/mujoco/mujoco.h")


def embed_models(out):
    """models/*.xml as C arrays, the file cmake/mujoco.cmake writes: for each NAME.xml,
    ng_mj_xml_NAME[] (the text and a NUL) and ng_mj_xml_NAME_len (without the NUL)."""
    lines = ["/* Generated from the models directory by python/setup.py: do not edit. */",
             "#include <stddef.h>"]
    for path in sorted(glob.glob(os.path.join(REPO, "models", "*.xml"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            data = f.read()
        body = ",".join(f"0x{b:02x}" for b in data + b"\0")
        lines += [f"extern const unsigned char ng_mj_xml_{name}[];",
                  f"extern const size_t ng_mj_xml_{name}_len;",
                  f"const unsigned char ng_mj_xml_{name}[] = {{{body}}};",
                  f"const size_t ng_mj_xml_{name}_len = {len(data)};"]
    text = "\n".join(lines) + "\n"
    if not os.path.exists(out) or open(out).read() != text:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)


class BuildExt(build_ext):
    def build_extensions(self):
        if HAVE_MUJOCO:
            models = os.path.join(self.build_temp, "ng_mujoco_models.c")
            embed_models(models)
            for ext in self.extensions:
                ext.sources.append(models)
        super().build_extensions()


sources = sorted(glob.glob(os.path.join(HERE, "src", "*.c")))
sources += sorted(glob.glob(os.path.join(REPO, "src", "**", "*.c"), recursive=True))
# Relative to this folder, as setuptools wants them.
sources = [os.path.relpath(s, HERE) for s in sources]

ext = Extension(
    "natgrad._natgrad",
    sources=sources,
    include_dirs=[os.path.join(REPO, "include"), os.path.join(REPO, "src"),
                  os.path.join(HERE, "src"), numpy.get_include()],
    define_macros=[("_POSIX_C_SOURCE", "200809L")] + ([("NG_HAVE_MUJOCO", "1")]
                                                       if HAVE_MUJOCO else []),
    # As CMakeLists.txt: C11, and no fused multiply-adds (the environments round as
    # Gymnasium's NumPy arithmetic does; results match the CLI's bit for bit).
    extra_compile_args=["-std=c11", "-ffp-contract=off", "-fno-semantic-interposition"],
    libraries=["openblas", "z", "m", "pthread", "dl"] + (["mujoco"] if HAVE_MUJOCO else []),
)

setup(
    name="natgrad",
    version="0.1.0",
    description="natgrad from Python: C-speed Gymnasium vector environments and "
                "natural-gradient training",
    packages=["natgrad"],
    package_dir={"natgrad": "natgrad"},
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.9",
    install_requires=["numpy"],
)
