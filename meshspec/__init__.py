"""meshspec: one neutral service-mesh spec with one meaning.

The public API is small on purpose; everything not listed here is private.
"""

from meshspec.api import compile, explain, import_resources, load, load_text, validate
from meshspec.diagnostics import Diagnostic, Location, Severity
from meshspec.errors import MeshSpecError, SpecError, UnknownTarget
from meshspec.semantics import Decision, Request
from meshspec.spec import Spec

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "Diagnostic",
    "Location",
    "MeshSpecError",
    "Request",
    "Severity",
    "Spec",
    "SpecError",
    "UnknownTarget",
    "__version__",
    "compile",
    "explain",
    "import_resources",
    "load",
    "load_text",
    "validate",
]
