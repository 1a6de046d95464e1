"""Imported once by the server that scan workers are forked from (see ``qc.batch``).

What every worker would otherwise load for its own first take (the analysis code and
dlib's face models, ~2 s) is loaded here once; workers forked from this server start
warm, so replacing a crashed worker, or the next scan in the same process, is quick.
Nothing here may fail: a worker that finds the models missing reports it per take.
"""

import logging

import qc.batch  # noqa: F401  - the analysis code, imported for its side effect

try:
    from qc.detectors.faces import face_models

    face_models()
except Exception:  # pragma: no cover - reported by the worker, take by take
    logging.getLogger("qc").debug("face models not preloaded", exc_info=True)
