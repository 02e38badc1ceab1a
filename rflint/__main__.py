"""``python -m rflint``."""

from .cli import main

raise SystemExit(main())
