"""Package discovery, the one part of the build that pyproject.toml cannot say; everything else is there.

``data/`` stays at the top of the repository, where newcomers and the tests read it, and ships as the
package ``roadbot_data`` (setuptools' ``package_dir`` maps the name to the folder). So a wheel carries the
sample closures, demo spots and municipality boundaries, an editable install points at ``data/`` itself,
and ``bot.config`` finds them through ``importlib.resources`` either way. The code packages are found
rather than listed, so a new subpackage needs no edit here (namespace packages included: the alembic
``migrations`` folders have no ``__init__.py``).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["geo", "geo.*", "closures", "closures.*", "bot", "bot.*"]),
        "roadbot_data",
    ],
    package_dir={"roadbot_data": "data"},
)
