"""Errors a student can cause. Each carries a message written for the student, not a traceback."""


class ExplorerError(Exception):
    """A problem with the student's input or action; `str(error)` is ready to show on screen."""


class BadValueError(ExplorerError):
    """A value that is not a finite number."""


class UnknownLessonError(ExplorerError):
    """A lesson id that the registry does not hold."""


class GraphFreedError(ExplorerError):
    """A second .backward() through a graph whose saved tensors were already freed."""

    def __init__(self, pytorch_message: str):
        self.pytorch_message = pytorch_message
        super().__init__(
            "PyTorch refused: \"" + pytorch_message.split(". ")[0] + ".\"\n\n"
            "An earlier .backward() through this graph ran without retain_graph=True and freed the "
            "values the graph had saved for the chain rule (for x**2 that is x itself), so there is "
            "nothing left to differentiate with. Either build the function again (the \"Call "
            ".backward()\" button does that, as a training loop does each step), or pass "
            "retain_graph=True to every .backward() through this graph except the last, to keep the "
            "saved values for the next pass."
        )


class PyTorchRefusedError(ExplorerError):
    """PyTorch itself raised: its own message first, word for word, then what it means in our words.

    A lesson whose point is an error (a non-scalar .backward(), an in-place change of a saved
    tensor) shows this; nothing of the student's session is lost."""

    def __init__(self, pytorch_message: str, explanation: str, node: str | None = None,
                 versions: dict[str, int] | None = None):
        self.pytorch_message = pytorch_message
        self.explanation = explanation
        self.node = node  # the graph's id of the node the error is about (whose saved tensor changed), if any
        self.versions = versions  # a saved tensor's version counter: {"saved": 0, "now": 1}
        super().__init__(f"PyTorch refused: \"{pytorch_message}\"\n\n{explanation}")
