"""Exercise checkers: ``cu.check.exercise_NN_k(answer)`` prints ✅ or a specific hint and returns a
:class:`~course_utils.check._core.Verdict` (truthy when right, silent in Jupyter).

Each checker is a short table of rules (:func:`~course_utils.check._core.checker`): it runs the
learner's answer on several fresh inputs, with what the exercise asks them to write switched off
while their code runs, and compares at the precision of the model they were given. Worked solutions
live in ``notebooks/solutions/``; ``tests/test_check_NN.py`` proves that every checker accepts them
in float32 and bfloat16 and rejects the fakes in its ``FAKES`` table.
"""

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
