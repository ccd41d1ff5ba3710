"""Tags the wheel ``py3-none-<platform>``: the package is pure Python (ctypes, no
extension module), so any CPython 3.9+ can load it, but the wheel that bundles
``libconveyor.so`` is tied to a platform. ``scripts/build-python-wheel.sh`` stages the
package with the library in a scratch folder (never in the source tree) and sets
``CONVEYOR_WHEEL_PLATFORM`` (e.g. ``manylinux_2_34_x86_64``: the newest glibc symbol
version the library needs). Built without the library, the wheel is ``py3-none-any``
and finds the library at ``$CONVEYOR_LIB`` or in a checkout's ``target/``."""

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.dist import Distribution

BUNDLED = (Path(__file__).resolve().parent / "conveyor" / "libconveyor.so").exists()


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # the bundled library is native code: platlib, platform tag
        return BUNDLED


class PlatformWheel(bdist_wheel):
    def finalize_options(self) -> None:
        if BUNDLED and self.plat_name is None:
            self.plat_name = os.environ.get("CONVEYOR_WHEEL_PLATFORM") or None
        super().finalize_options()

    def get_tag(self) -> tuple:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
