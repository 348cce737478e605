"""The one exception type users see.

Every problem caused by the user's input (a missing file, axes that do not match, a bad option) is
raised as :class:`Noise2StackError` with a one-line message that names the problem. The CLI turns it
into that line on stderr and exit code 2; anything else is a bug in noise2stack.
"""


class Noise2StackError(ValueError):
    """A problem with the user's input, explained in one line."""
