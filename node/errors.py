"""Errors of the node package: one root, subclasses that say whose fault it is."""

from __future__ import annotations


class NodeError(Exception):
    """Root of every error raised by node/."""


class ConfigError(NodeError):
    """The operator's configuration, genesis or home directory is invalid.

    The message names the file and the offending field.
    """


class KeyFileError(NodeError):
    """A key file is missing, malformed, or cannot be decrypted."""
