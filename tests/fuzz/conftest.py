"""Fuzz targets: every entry point that reads untrusted input, fed hostile and careless input.

Each target asserts the product's promise for bad input: one clear sentence and exit 1 (or a typed
error from the API), never a traceback, never "unexpected ...", never half-written data.
"""
