"""The one exception type for user errors."""


class GradstepError(ValueError):
    """A problem with the user's input or options.

    The message says what is wrong, where, and how to fix it, in one line.
    It subclasses ``ValueError`` so callers (and scikit-learn) can catch it as one.
    """


class DivergenceError(GradstepError):
    """The descent produced a non-finite loss or parameter.

    ``epoch`` and ``step`` (1-based) say where, when the descent knows (else None).
    """

    epoch: int | None = None
    step: int | None = None
