"""Reading pickles from disk without running code from them, and the list of every load in the package.

A pickle is a small program: its ``GLOBAL`` opcodes import any callable by name (``os.system``,
``subprocess.Popen``, ``builtins.eval``) and ``REDUCE`` calls it. A checksum only covers a download,
not a file someone later put in the data folder, so every pickle is read with an allow-list: the
unpickler resolves only the globals the format needs and refuses everything else *before* it can be
called (Python's "Restricting Globals" recipe, docs.python.org/3/library/pickle.html).

Every pickle read in the package (audit; keep this list current):

- ``data/cifar10.py`` ``read_batch`` / ``read_meta``: CIFAR-10 ``data_batch_*``, ``test_batch``,
  ``batches.meta`` through :func:`load_restricted` with :data:`CIFAR_GLOBALS` (dict, list, str, bytes,
  int and numpy array reconstruction).
- ``yolov5_checkpoint.py`` ``read_yolov5_checkpoint``: official YOLOv5 ``.pt`` files, ``torch.load`` with
  its own restricted unpickler (tensor rebuilding, torch.nn layers, inert stand-ins for ``models.*``).
- ``yolov5_checkpoint.py`` ``load_yolov5`` (own format), ``weights.py`` ``load_state_dict_file``
  (ResNet-18 and other state dicts) and ``load_cnn_checkpoint`` (lesson 03's CNN), ``train.py``
  (``--resume`` checkpoints): ``torch.load(weights_only=True)``, PyTorch's own allow-list of tensors,
  containers and numbers.

No other ``pickle.load`` / ``torch.load`` exists in the package (``grep -rn "pickle.load\\|torch.load"``).
"""
import codecs
import pickle

import numpy as np

from ..errors import DataUnavailable, modern_name


def _latin1_encode(text, encoding="latin1"):
    """What Python 3 writes for ``bytes`` in protocol 2 (``_codecs.encode(str, "latin1")``); no other codec."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return codecs.encode(text, "latin1")


_reconstruct = np.zeros(0).__reduce__()[0]  # numpy's array-rebuilding function, wherever this numpy keeps it
# "module.name" (as errors.modern_name spells it) -> object. numpy moved ``core`` to ``_core`` in 2.0;
# files name either.
CIFAR_GLOBALS = {
    "numpy.core.multiarray._reconstruct": _reconstruct,
    "numpy._core.multiarray._reconstruct": _reconstruct,
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    "_codecs.encode": _latin1_encode,
}


class PickleRefused(DataUnavailable):
    """A pickle asked for a global outside the allow-list (a tampered or foreign file)."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``allowed`` globals ({"module.name": object}); anything else is refused.

    Names are compared as :func:`minitorch_vision.errors.modern_name` spells them (a Python 2 pickle's
    ``commands.Popen`` is ``subprocess.Popen``), so a refusal names what would really have been imported.

    ``path`` and ``what`` (e.g. ``"CIFAR-10 batch"``) only word the refusal.
    """

    def __init__(self, file, allowed, path, what, **kw):
        super().__init__(file, **kw)
        self.allowed, self.path, self.what = allowed, path, what

    def find_class(self, module, name):
        key = ".".join(modern_name(module, name))
        if key in self.allowed:
            return self.allowed[key]
        raise PickleRefused(f"refused to load {self.path}: its pickle asks for {key}, which a "
                            f"{self.what} never contains (a tampered file?) — delete it and download it again")


def load_restricted(path, allowed, what):
    """Unpickle file ``path`` (Python 2 era: ``encoding="bytes"``) with only ``allowed`` globals.

    Raises PickleRefused for a forbidden global; other errors (truncated, not a pickle) propagate.
    """
    with open(path, "rb") as f:
        return RestrictedUnpickler(f, allowed, path, what, encoding="bytes").load()
