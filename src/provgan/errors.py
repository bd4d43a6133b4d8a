"""The one exception type users see.

Library code raises :class:`ProvganError` for mistakes a user can fix (a typo in a config key, a
checkpoint from another config, an unreadable video). The CLI prints its message as one line and
exits non-zero; anything else is a bug and keeps its traceback.
"""


class ProvganError(Exception):
    """A user-fixable problem; the message says what is wrong and what to do."""


class ConfigError(ProvganError):
    """A configuration value or key is invalid."""


class DiskFullError(ProvganError):
    """A write ran out of space (or hit a file-size limit); the message names the folder, the space the
    file needed and the space that is free. The half-written file is gone and the previous one intact."""
