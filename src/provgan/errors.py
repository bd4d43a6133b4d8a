"""The one exception type users see.

Library code raises :class:`ProvganError` for mistakes a user can fix (a typo in a config key, a
checkpoint from another config, an unreadable video). The CLI prints its message as one line and
exits non-zero; anything else is a bug and keeps its traceback.
"""


class ProvganError(Exception):
    """A user-fixable problem; the message says what is wrong and what to do."""


class ConfigError(ProvganError):
    """A configuration value or key is invalid."""
