"""Operator inputs: the YAML file per district and period, and the same fields as run parameters."""

import unicodedata
from pathlib import Path

import pytest

from tthc.inputs import InputsError, OperatorInputs, inputs_from_params, load_inputs

INPUTS = Path(__file__).resolve().parents[2] / "include" / "inputs"


def write(tmp_path: Path, text: str, period: str = "2023-11", unit: str = "872", suffix: str = ".yaml") -> Path:
    path = tmp_path / period / f"{unit}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_gives_the_model_reports_inputs():
    inputs, warnings = load_inputs(INPUTS, "2023-11", "872")
    assert warnings == []
    assert inputs.inspections.violations == 0 and inputs.inspections.count is None
    assert inputs.resources.startswith("Các nguồn lực cho công tác Kiểm soát thủ tục hành chính")
    assert "trình độ chuyên môn" in inputs.resources
    assert len(inputs.assessment) == 1 and "đôn đốc" in inputs.assessment[0]
    assert "\n" not in inputs.assessment[0]  # the folded YAML block is one paragraph


def test_missing_file_is_a_warning_not_an_error(tmp_path):
    inputs, warnings = load_inputs(tmp_path, "2023-11", "872")
    assert inputs is None
    assert len(warnings) == 1 and "2023-11/872.yaml" in warnings[0]


def test_yml_suffix_is_accepted(tmp_path):
    write(tmp_path, "resources: Đủ nguồn lực.\n", suffix=".yml")
    inputs, _ = load_inputs(tmp_path, "2023-11", "872")
    assert inputs.resources == "Đủ nguồn lực."


def test_empty_file_warns(tmp_path):
    write(tmp_path, "# nothing yet\n")
    inputs, warnings = load_inputs(tmp_path, "2023-11", "872")
    assert inputs == OperatorInputs() and "empty" in warnings[0]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("resource: typo\n", "field resource"),
        ("inspections:\n  violation: 1\n", "field inspections.violation"),
        ("inspections:\n  violations: -1\n", "field inspections.violations"),
        ("inspections:\n  count: many\n", "field inspections.count"),
        ("inspections:\n  violations: 2\n", "findings"),
        ("assessment: {a: 1}\n", "field assessment"),
    ],
)
def test_invalid_file_names_the_file_and_the_field(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(InputsError) as error:
        load_inputs(tmp_path, "2023-11", "872")
    assert str(path) in str(error.value) and field in str(error.value)


def test_invalid_yaml_and_wrong_shape(tmp_path):
    path = write(tmp_path, "resources: [unclosed\n")
    with pytest.raises(InputsError, match="not valid YAML") as error:
        load_inputs(tmp_path, "2023-11", "872")
    assert str(path) in str(error.value)
    write(tmp_path, "- a list\n")
    with pytest.raises(InputsError, match="mapping"):
        load_inputs(tmp_path, "2023-11", "872")


def test_file_copied_from_another_unit_or_period_is_refused(tmp_path):
    write(tmp_path, "unit_code: 873\n")
    with pytest.raises(InputsError, match="unit_code"):
        load_inputs(tmp_path, "2023-11", "872")
    write(tmp_path, 'unit_code: "872"\nperiod: "2023-10"\n')
    with pytest.raises(InputsError, match="field period"):
        load_inputs(tmp_path, "2023-11", "872")


def test_text_is_nfc_and_paragraphs_split(tmp_path):
    decomposed = unicodedata.normalize("NFD", "Tiếp tục đôn đốc.")
    write(tmp_path, f"assessment: |\n  {decomposed}\n\n  Đoạn hai.\nshortcomings: Một hạn chế.\n")
    inputs, _ = load_inputs(tmp_path, "2023-11", "872")
    assert inputs.assessment == ["Tiếp tục đôn đốc.", "Đoạn hai."]
    assert unicodedata.is_normalized("NFC", inputs.assessment[0])
    assert inputs.shortcomings == ["Một hạn chế."]


def test_params_win_over_the_file_field_by_field():
    base = OperatorInputs.model_validate(
        {"inspections": {"count": 2, "violations": 0}, "resources": "Từ tệp.", "assessment": ["Từ tệp."]}
    )
    merged = inputs_from_params({"inspections": {"violations": 1, "findings": "Nhắc nhở 01 công chức"},
                                 "resources": None, "assessment": "Từ tham số."}, base)
    assert merged.inspections.count == 2  # kept from the file
    assert merged.inspections.violations == 1 and merged.inspections.findings == "Nhắc nhở 01 công chức"
    assert merged.resources == "Từ tệp."  # a null parameter is "not given"
    assert merged.assessment == ["Từ tham số."]


def test_params_without_values_keep_the_file_and_without_file_stand_alone():
    base = OperatorInputs(resources="Từ tệp.")
    assert inputs_from_params({}, base) is base
    assert inputs_from_params(None, None) is None
    assert inputs_from_params({"resources": "x", "period": None}, None) == OperatorInputs(resources="x")


def test_invalid_params_name_the_field():
    with pytest.raises(InputsError, match=r"run parameters.*field inspections\.violations"):
        inputs_from_params({"inspections": {"violations": "nhiều"}})
