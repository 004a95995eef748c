"""The one error type a lesson turns into a one-line message and exit status 2 (no traceback).

The rule: a problem the user can cause or fix (a bad flag, a missing or corrupt file, a full disk, a
folder we may not write) is an :class:`MTVError` whose text is ``<what happened> — <what to do>``;
the lesson prints it as ``error: <text>`` and exits 2. Anything else is a bug and keeps its traceback.

``summarize`` turns a library's exception (torch's long multi-paragraph texts, pickle's, an empty
``EOFError``) into one sentence in our words, for the ``<what happened>`` part.
"""
import _compat_pickle
import errno
import re


class MTVError(Exception):
    """A problem the user can fix (a missing or corrupt file, bad input). ``str(err)`` is one line."""

    exit_code = 2


class DataUnavailable(MTVError):
    """A dataset or weights file is missing, corrupt or cannot be downloaded."""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# torch's weights_only refusal names the global as pickle protocol 2 wrote it ("GLOBAL commands.Popen")
_OS_MODULES = {"posix": "os", "nt": "os"}  # os.system is pickled as posix.system (nt.system on Windows)
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)\.(\w+)")


def modern_name(module, name):
    """The Python 3 ``(module, name)`` of a global as a pickle spells it (protocol 2, or ``posix`` for ``os``).

    The mapping ``pickle.Unpickler`` applies for protocols < 3 (``fix_imports``): ``torch.save`` writes
    protocol 2, which stores ``subprocess.Popen`` as ``commands.Popen`` and ``builtins`` as
    ``__builtin__``; a refusal must name what would really have been imported.
    """
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    if module in ("posix", "nt"):  # os.system is pickled by where it lives (posix.system): name it as users know it
        return "os", name
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def summarize(exc):
    """One sentence, in our words, for an exception raised while reading a file (torch, pickle, OS).

    Never empty (an empty message gives the exception's type), never cut in the middle of a sentence,
    free of ANSI escapes, and never the advice to load with ``weights_only=False`` (it runs the file's code).
    """
    text = _ANSI.sub("", str(exc)).strip()
    if "Weights only load failed" in text or "WeightsUnpickler" in text:
        g = _GLOBAL.search(text)
        if g:
            module, name = modern_name(g.group(1), g.group(2))
            return f"its pickle asks for {_OS_MODULES.get(module, module)}.{name}, which no weights file needs " \
                   f"(refused before anything ran)"
        return "it holds Python objects besides tensors (refused before anything ran)"
    if "PytorchStreamReader" in text or "central directory" in text or getattr(exc, "errno", None) == errno.EINVAL:
        return "it is not a complete PyTorch file (truncated or corrupted)"  # EINVAL: a seek past a cut-off end
    if "Invalid magic number" in text:
        return "it is not a PyTorch file"
    if isinstance(exc, EOFError) or "Ran out of input" in text:
        return "it is empty or cut short"
    if isinstance(exc, (KeyError, IndexError)) or "invalid load key" in text:
        return "its contents are not in the expected format"
    if not text:
        return type(exc).__name__
    first = next(ln.strip() for ln in text.splitlines() if ln.strip())
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return sentence if len(sentence) <= 300 else sentence[:297].rsplit(" ", 1)[0] + " ..."
