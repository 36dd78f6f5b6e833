"""Problem families: one sub-package per family; each registers its versions on import."""
