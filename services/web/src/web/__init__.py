"""The playground in the browser: the live view of `make watch`, as a page."""
