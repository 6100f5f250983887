"""The error type for problems the user can fix."""


class HoifitError(Exception):
    """A problem with the input or set-up that the user can fix.

    The message is one line: what is wrong and what to do. Command-line tools print it without a
    stack trace and exit non-zero.
    """


class ConfigError(HoifitError):
    """A configuration value that cannot work: an unknown name, a value out of range.

    Raised while the config is parsed, before any model loads; the message names the field.
    """
