"""The sample data as an installed package, ``roadbot_data``: files only, no code (see README.md here).

``setup.py`` maps this folder to the package, so ``importlib.resources.files("roadbot_data")`` is this
folder in an editable install and its copy in site-packages in a wheel install.
"""
