"""User-facing error types: one-line messages the CLI prints without a traceback."""


class ArfxError(Exception):
    """A problem the user can fix; str(error) names the problem and the fix."""


class ModelError(ArfxError):
    """A model file is missing, altered or cannot be loaded."""


class InputError(ArfxError):
    """An input file, folder or camera cannot be read."""


class OutputError(ArfxError):
    """An output path cannot be written."""


class EffectError(ArfxError):
    """An effect or its assets are unknown or broken."""


class RenderError(ArfxError):
    """No OpenGL context could be created or a GL resource failed."""


def reason(error: BaseException) -> str:
    """An error's reason in a few words ("No space left on device"), for one-line messages:
    no errno number, no second line, no temporary file name."""
    strerror = getattr(error, "strerror", None)
    if isinstance(strerror, str) and strerror.strip():
        return strerror.strip()[:200]
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__
