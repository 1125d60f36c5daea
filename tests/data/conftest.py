"""Helpers of the data tests."""

from __future__ import annotations

from retaillab.cli import main


def validate_error(capsys, *argv: str) -> str:
    """Run ``retaillab validate``; it must exit 2 with one message on stderr, no traceback."""
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("error: ") == 1 and out == ""
    assert "Traceback" not in err
    return err
