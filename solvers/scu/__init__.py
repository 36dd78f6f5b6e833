"""The SCU family of solvers for the remote microgrid (``mobench.problems.microgrid``): the
shield units and their stack (``shields``), the wrapper that runs any policy or solver behind
the stack (``wrapper``, solver ``mg-wrap``), the paper's baselines (``baselines``) and SAC
(``sac``: ``sac`` and ``sac-scu``)."""
from . import baselines, sac, wrapper  # noqa: F401  (each registers its solvers)
