"""The numbers behind the shared rules (:mod:`gradstep.policies`), in a module that
imports nothing, so the command line can show them in ``--help`` without NumPy."""

#: the default of ``tol`` for ``GDRegressor`` and ``gradstep train`` (``fit``: None)
DEFAULT_TOL = 1e-8
#: beyond this condition number of the Hessian no accuracy is certified
MAX_CONDITION = 1e10
