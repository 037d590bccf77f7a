# Only here because pyproject.toml cannot copy data from outside the package. runbooks/ and fixtures/ stay
# at the top of the repository (they are data, edited by people); a wheel carries them inside the package
# as diagnose/_runbooks and diagnose/_fixtures, so `pip install .` has them. fixtures/build (the code that
# writes the fixtures) is for developers and stays out. An editable install needs no copy: the code finds
# runbooks/ and fixtures/ in the checkout first (engine/runbook.py, bundle/fixtures.py), and with no
# package_dir mapping setuptools can use a plain .pth file, with none of its editable-mode warnings.
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

SHIPPED = {"runbooks": "_runbooks", "fixtures": "_fixtures"}
LEFT_OUT = shutil.ignore_patterns("build", "__pycache__", "*.pyc")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for src, dst in SHIPPED.items():
            target = Path(self.build_lib, "diagnose", dst)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(src, target, ignore=LEFT_OUT)


setup(packages=find_packages(include=["diagnose", "diagnose.*"]), package_dir={"": "."}, cmdclass={"build_py": BuildWithData})
