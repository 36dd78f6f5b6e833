"""Package mapping: the top-level folders problems/, solvers/, metrics/ are installed as
mobench.problems, mobench.solvers, mobench.metrics (so mobench claims no generic top-level
names). Sub-packages are discovered, so adding a family folder needs no edit here; folders
without an __init__.py (data/, templates/) are found as namespace packages, so that setuptools
installs their files without warning that it "would ignore" them.

A built copy (a wheel, ``pip install --target``) has no git history, so the build writes the
checkout's commit into it (mobench/_build_info.json), which the runner's provenance reads."""
import json
import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent.resolve()


class BuildWithCommit(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install asks git directly
        source = runpy.run_path(str(HERE / "mobench" / "source.py"))  # stdlib only; mobench's deps may be absent
        target = Path(self.build_lib) / "mobench" / source["BUILD_INFO"]
        target.unlink(missing_ok=True)  # an earlier build's, left in build/
        found = source["checkout_commit"](HERE / "mobench")
        if found is not None:
            target.write_text(json.dumps({"git_commit": found[0], "git_dirty": found[1]}))


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

setup(packages=packages, package_dir=package_dir, cmdclass={"build_py": BuildWithCommit})
