"""Force a multiprocessing start method in every Python process, for rehearsals only.

macOS and Windows start processes with ``spawn``; Linux moves to ``forkserver`` in Python 3.14;
the course is written and tested on Linux, where the default is ``fork``. With this folder on
``PYTHONPATH`` and ``COURSE_START_METHOD`` set, every Python process (a notebook's kernel, the
training scripts, torchrun's ranks, the workers of ``Dataset.map(num_proc=...)``) starts its own
processes that way, both through ``multiprocessing`` and through ``multiprocess`` (the dill-based
copy that ``datasets`` uses)::

    PYTHONPATH=$PWD/tools/spawn COURSE_START_METHOD=spawn HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 \\
        .venv/bin/python -m pytest --nbval-lax --nbval-current-env \\
        --nbval-sanitize-with notebooks/sanitize.cfg notebooks/04_datasets.ipynb

Python runs a ``sitecustomize`` module found on ``sys.path`` at start-up; nothing here runs
without ``COURSE_START_METHOD``. tests/test_spawn.py uses it.
"""

import os

_METHOD = os.environ.get("COURSE_START_METHOD", "").strip()
if _METHOD:
    import multiprocessing

    multiprocessing.set_start_method(_METHOD, force=True)
    try:
        import multiprocess
    except ImportError:
        pass
    else:
        multiprocess.set_start_method(_METHOD, force=True)
