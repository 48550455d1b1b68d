"""Sphinx configuration. The API pages are generated from the docstrings of the installed
fastmlp (autodoc imports it, and only an installed copy has the compiled core), so
reinstall after editing a docstring: pip install . (or pip install ".[docs]")."""
import fastmlp

project = "fastmlp"
author = "the fastmlp authors"
copyright = "the fastmlp authors"
version = release = fastmlp.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["examples"]
# `name` in a docstring is a cross-reference when Sphinx knows the name, else code.
default_role = "py:obj"

# NumPy-style docstrings; the types are written in them, so signatures stay plain (the
# annotations would spell out numpy.typing aliases).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# Types as plain text: as cross-references, words of "ndarray, shape (n, k)" would link to
# whatever object has that name (Parameter.shape).
napoleon_use_param = False
napoleon_use_rtype = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
# Signatures read "Sequential(*layers, ...)"; the page says which module it is.
add_module_names = False

html_theme = "furo"
html_title = f"fastmlp {release}"


def _skip_foreign(app, what, name, obj, skip, options):
    """Leaves out class members that are not fastmlp's code: scikit-learn adds its
    metadata-routing methods (set_fit_request, ...) to every estimator class."""
    module = getattr(getattr(obj, "fget", obj), "__module__", None) or ""
    return True if what == "class" and not module.startswith("fastmlp") else None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign)
