"""Kindred: a peer-support group bot for parents whose children are in therapy."""

__version__ = "0.1.0"
