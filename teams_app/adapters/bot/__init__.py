"""The Teams bot adapter: the only package that imports botbuilder (in hosting, handler and install)."""
