"""Rule implementations, one module per family. ``checks.base.all_rules`` imports them
(registering every rule) on first use, so that a run served from the cache imports none."""

FAMILIES = ("aa", "cb", "cc", "dl", "meta", "nm", "pd", "rf", "st")
