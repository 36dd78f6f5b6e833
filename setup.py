"""Package mapping: the top-level folders problems/, solvers/, metrics/ are installed as
mobench.problems, mobench.solvers, mobench.metrics (so mobench claims no generic top-level
names). Sub-packages are discovered, so adding a family folder needs no edit here; folders
without an __init__.py (data/, templates/) are found as namespace packages, so that setuptools
installs their files without warning that it "would ignore" them."""
from setuptools import find_namespace_packages, setup

ROOTS = {"mobench": "mobench", "mobench.problems": "problems",
         "mobench.solvers": "solvers", "mobench.metrics": "metrics"}

packages, package_dir = [], {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    subs = find_namespace_packages(folder, exclude=["*__pycache__*"])
    packages += [f"{name}.{sub}" for sub in subs]
    for sub in subs:
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
