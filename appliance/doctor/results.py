"""The doctor's result types, shared by the installation checks and the device checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from appliance.config import Config
from appliance.errors import ApplianceError

OK, FAIL, SKIP = "OK", "FAIL", "SKIP"

STOP_FIRST = "if the service runs, stop it first: sudo systemctl stop moodbox"


@dataclass(frozen=True)
class Result:
    """One check's outcome: ``status`` is OK, FAIL or SKIP (not applicable here)."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The line ``moodbox doctor`` prints."""
        text = f"{self.status:<4}  {self.name:<8}  {self.detail}"
        return f"{text}; fix: {self.fix}" if self.status == FAIL and self.fix else text


class Problem(ApplianceError):
    """A failed check that knows its own fix."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.fix = fix


Check = Callable[[Config], Result]


def run_checks(config: Config, checks: Sequence[tuple[str, Check, str]]) -> Iterator[Result]:
    """Runs ``checks`` in order, yielding each result as soon as it is known.

    Args:
        config: the effective configuration.
        checks: ``(name, check, usual fix)`` triples, such as ``all_checks()``.
    """
    for name, check, fix in checks:
        try:
            yield check(config)
        except Problem as exc:
            yield Result(name, FAIL, str(exc), exc.fix)
        except Exception as exc:  # a doctor reports every failure and goes on
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            yield Result(name, FAIL, first, fix)
