"""Export and import of closures in open formats."""
