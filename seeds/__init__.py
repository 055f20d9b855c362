"""Demo data: load_demo() is what `backoffice demo` and `backoffice seed` call."""
