"""Exercise checkers: ``cu.check.exercise_NN_k(answer)`` prints ✅ or a specific hint and returns a
:class:`~course_utils.check._core.Verdict` (truthy when right, silent in Jupyter).

Each runs the learner's answer against the course's reference on fresh inputs. Worked solutions
live in ``notebooks/solutions/``; ``tests/test_check.py`` proves every checker accepts them and
rejects typical wrong answers. Every checker is wrapped here, in one place, by ``keeps_rng``: it
leaves the notebook's random state as it found it and returns a ``Verdict``.
"""

from ._core import keeps_rng
from .nb00 import *  # noqa: F401,F403
from .nb01 import *  # noqa: F401,F403
from .nb02 import *  # noqa: F401,F403
from .nb03 import *  # noqa: F401,F403
from .nb04 import *  # noqa: F401,F403
from .nb05 import *  # noqa: F401,F403
from .nb06 import *  # noqa: F401,F403
from .nb07 import *  # noqa: F401,F403
from .nb08 import *  # noqa: F401,F403
from .nb09 import *  # noqa: F401,F403
from .nb10 import *  # noqa: F401,F403

for _name in [n for n in list(globals()) if n.startswith("exercise_")]:
    globals()[_name] = keeps_rng(globals()[_name])
del _name
