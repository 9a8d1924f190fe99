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
