# Only here because pyproject.toml cannot add mapped data packages to the found ones.
from setuptools import find_packages, setup

setup(packages=find_packages(include=["diagnose", "diagnose.*"]) + ["diagnose._runbooks", "diagnose._fixtures"])
