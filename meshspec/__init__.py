"""meshspec: one neutral service-mesh spec with one meaning.

The public API is small on purpose; everything not listed here is private.
"""

from meshspec.api import compile, explain, import_resources, load, load_text, validate
from meshspec.diagnostics import Diagnostic, Location, Severity
from meshspec.errors import ImportFailed, MeshSpecError, SpecError, UnknownTarget, UnsupportedError
from meshspec.semantics import Decision, Request
from meshspec.spec import Spec

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "Diagnostic",
    "ImportFailed",
    "Location",
    "MeshSpecError",
    "Request",
    "Severity",
    "Spec",
    "SpecError",
    "UnknownTarget",
    "UnsupportedError",
    "__version__",
    "compile",
    "explain",
    "import_resources",
    "load",
    "load_text",
    "validate",
]
