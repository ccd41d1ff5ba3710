"""Marks the wheel as platform-specific: it bundles libconveyor.so when built with
scripts/build-python-wheel.sh (which copies the library into conveyor/ first)."""
from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # the bundled shared library is native code
        return True


setup(distclass=BinaryDistribution)
