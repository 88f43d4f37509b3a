"""The trace of a session as plain JSON data: what `python -m explorer show --json` prints, what a
Flow's `.report()` returns and what the JSON export writes. One function, so the three agree."""

from __future__ import annotations


def session_report(lesson_id: str, session) -> dict:
    """The graph once, then each call's events and .grad values, the history, the final .grads.

    `session` is a calls.BackwardSession, or anything with the same `.values`, `.passes`,
    `.history` and `.full_grads()` (io.export.Trace, a session's copy without tensors).
    """
    return {
        "lesson": lesson_id,
        "values": session.values,
        "graph": session.passes[-1].graph.to_dict(),
        "calls": [
            {"call": number, **record.to_dict(with_graph=False)}
            for number, record in enumerate(session.passes, start=1)
        ],
        "history": [entry.to_dict() for entry in session.history],
        # every element of every leaf's final .grad (events and history show small tensors only)
        "grads": session.full_grads(),
    }
