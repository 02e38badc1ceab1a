"""Rule implementations, one module per family. Importing this package registers them all."""

from . import aa, cb, cc, dl, meta, nm, pd, rf, st  # noqa: F401  (registration side effect)
