"""scripts/arm64/reference.py: the reference check on a copy of the shipped model, --record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from modelcopy import model_copy, shipped_contract

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "arm64"))
import reference  # noqa: E402

from appliance.mood.reference import DEFAULT_TOLERANCE_STEPS, recorded_reference  # noqa: E402
from appliance.mood.runtime import runtime_name  # noqa: E402

pytestmark = pytest.mark.runtime


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return model_copy(tmp_path)


def measured(model: Path) -> list[dict]:
    return json.loads(model.with_suffix(".json").read_text())["reference"]["measured"]


def test_without_record_the_contract_is_left_as_it_was(model: Path) -> None:
    before = model.with_suffix(".json").read_bytes()
    assert reference.main(["--model", str(model)]) == 0
    assert model.with_suffix(".json").read_bytes() == before


def test_record_replaces_this_machines_entries_and_keeps_the_rest(model: Path) -> None:
    others = measured(model)
    stale = {"runtime": runtime_name(), "machine": "testbox", "kernels": "default",
             "max_steps": 99}
    reference.record(model.with_suffix(".json"), [stale])
    assert reference.main(["--model", str(model), "--record", "--machine", "testbox"]) == 0
    entries = measured(model)
    assert entries[:len(others)] == others
    mine = entries[len(others):]
    assert [(e["machine"], e["kernels"]) for e in mine] == [("testbox", "default"),
                                                            ("testbox", "built-in")]
    tolerance = json.loads(model.with_suffix(".json").read_text())["reference"]["tolerance_steps"]
    assert all(e["runtime"] == runtime_name() and 0 <= e["max_steps"] <= tolerance for e in mine)


def test_a_model_that_fails_the_check_exits_1(tmp_path: Path) -> None:
    contract = shipped_contract()
    contract["reference"]["int8_outputs"] = [[v + 20 for v in row]
                                             for row in contract["reference"]["int8_outputs"]]
    assert reference.main(["--model", str(model_copy(tmp_path, contract))]) == 1


def test_a_contract_without_recorded_answers_exits_1_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = shipped_contract()
    del contract["reference"]["int8_outputs"]
    assert reference.main(["--model", str(model_copy(tmp_path, contract))]) == 1
    assert "records no reference.int8_outputs" in capsys.readouterr().err


def test_a_contract_without_a_tolerance_gets_the_default(tmp_path: Path) -> None:
    contract = shipped_contract()
    del contract["reference"]["tolerance_steps"]
    model = model_copy(tmp_path, contract)
    recorded = recorded_reference(model.with_suffix(".json"))
    assert recorded is not None
    outputs, tolerance = recorded
    assert tolerance == DEFAULT_TOLERANCE_STEPS
    assert outputs.tolist() == shipped_contract()["reference"]["int8_outputs"]


def test_a_malformed_reference_block_is_one_error_naming_the_contract(tmp_path: Path) -> None:
    contract = shipped_contract()
    contract["reference"]["int8_outputs"] = [["high", "low"]]
    model = model_copy(tmp_path, contract)
    with pytest.raises(ValueError, match=r"emotion\.json: reference must hold int8_outputs"):
        recorded_reference(model.with_suffix(".json"))


def test_a_contract_that_is_not_json_is_one_error_naming_it(tmp_path: Path) -> None:
    model = model_copy(tmp_path, shipped_contract())
    model.with_suffix(".json").write_text("{ reference", encoding="utf-8")
    with pytest.raises(ValueError, match=r"emotion\.json: not JSON"):
        recorded_reference(model.with_suffix(".json"))


def test_an_answer_beyond_int16_is_one_error_naming_the_contract(tmp_path: Path) -> None:
    contract = shipped_contract()
    contract["reference"]["int8_outputs"][0][0] = 10**6
    model = model_copy(tmp_path, contract)
    with pytest.raises(ValueError, match=r"emotion\.json: reference must hold int8_outputs"):
        recorded_reference(model.with_suffix(".json"))
