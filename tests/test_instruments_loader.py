"""The strict loader: shipped definitions load, and every problem in a broken one is reported together."""
from __future__ import annotations

import textwrap

import pytest

from trust_survey.errors import DefinitionError
from trust_survey.instruments import load_registry
from trust_survey.instruments.loader import load_instrument_file

MINIMAL = """
id: demo
version: 1
title: Demo return
audience: [trust]
description: A small instrument for tests.
sections:
  - id: organisation
    title: Organisation
    items:
      - {id: org_code, label: ODS code, type: ods_code, required: true}
      - {id: staff_total, label: Staff, type: integer, min: 0, max: 10}
"""


def write(tmp_path, text: str, name: str = "demo.v1.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_instruments__load_with_stable_ids_and_distinct_hashes():
    reg = load_registry()
    assert reg.ids() == ["individual_review", "trust_capability"]
    trust = reg.get("trust_capability")
    fields = {f.field_id for f in trust.fields()}
    for expected in ("org_code", "job_title", "band", "headcount", "wte", "registration", "will_gen",
                     "dept_streams__gen", "kf_left_nhs", "signoff_date", "offer_timing", "remote_working"):
        assert expected in fields
    individual = reg.get("individual_review")
    assert {s.id for s in individual.scales} == {"retention", "utilisation", "equity_sensitivity"}
    assert any(i.reverse for i in individual.all_items())
    assert trust.definition_hash() != individual.definition_hash()
    tables = {t.id: t.max_rows for _, t in trust.tables()}
    assert set(tables) == {"departments", "staff", "partners"} and all(n > 0 for n in tables.values())


def test_minimal_definition__loads(tmp_path):
    inst = load_instrument_file(write(tmp_path, MINIMAL))
    assert inst.key == "demo.v1"
    assert [f.var_name for f in inst.fields()] == ["org_code", "staff_total"]


def test_definition_hash__ignores_comments_but_not_content(tmp_path):
    a = load_instrument_file(write(tmp_path, MINIMAL))
    other = tmp_path / "other"
    other.mkdir()
    b = load_instrument_file(write(other, "# a comment\n" + MINIMAL))
    assert a.definition_hash() == b.definition_hash()
    changed = MINIMAL.replace("max: 10", "max: 11")
    c = load_instrument_file(write(tmp_path, changed))
    assert c.definition_hash() != a.definition_hash()


BROKEN = """
id: demo
version: 1
title: Demo return
audience: [trust, hospital]
description: Broken on purpose.
choice_lists:
  colours:
    - {value: 1, label: Red}
    - {value: 1, label: Blue}
sections:
  - id: organisation
    title: Organisation
    items:
      - {id: org_code, label: ODS code, type: ods_code, requird: true}
      - {id: staff_total, label: Staff, type: integr}
      - {id: colour, label: Colour, type: single_choice, choices: colour}
      - {id: colour, label: Colour again, type: text}
      - {id: spss_bad, label: Bad SPSS name, type: text, spss_name: "2bad"}
      - {id: clash_a, label: A, type: text, spss_name: VAR1}
      - {id: clash_b, label: B, type: text, spss_name: var1}
      - {id: reserved, label: Reserved, type: text, spss_name: WITH}
"""


def test_broken_definition__reports_every_problem_with_suggestions(tmp_path):
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(write(tmp_path, BROKEN))
    details = "\n".join(caught.value.details)
    assert "audience.1: 'hospital' is not allowed" in details
    assert "sections.organisation.items.org_code.requird: unknown key; did you mean 'required'?" in details
    assert "sections.organisation.items.staff_total.type: 'integr' is not allowed" in details
    assert "did you mean 'integer'?" in details
    # Structure problems are reported first; fix them and the semantic ones appear together.
    fixed = BROKEN.replace("trust, hospital", "trust").replace("requird", "required").replace("integr}", "integer}")
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(write(tmp_path, fixed))
    details = caught.value.details
    text = "\n".join(details)
    assert all(line.startswith(str(tmp_path / "demo.v1.yaml") + ": ") for line in details)
    assert "choices: unknown choice list 'colour'; did you mean 'colours'?" in text
    assert "duplicate id 'colour'" in text
    assert "choice_lists.colours: value 1 is used twice" in text
    assert "'2bad' is not a valid SPSS name" in text
    assert "SPSS name 'var1' clashes with" in text
    assert "'WITH' is an SPSS reserved word" in text
    assert len(details) >= 6


def test_malformed_yaml__names_line_and_column(tmp_path):
    path = write(tmp_path, MINIMAL.replace("title: Demo return", "title: [unclosed"))
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(path)
    assert "malformed YAML at line" in str(caught.value)


def test_file_name__must_match_id_and_version(tmp_path):
    path = write(tmp_path, MINIMAL, name="demo.v2.yaml")
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(path)
    assert "expected 'demo.v1.yaml'" in "\n".join(caught.value.details)


def test_bare_no_in_yaml__gets_a_quoting_hint(tmp_path):
    text = MINIMAL + "choice_lists:\n  yn:\n    - {value: 0, label: No}\n"
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(write(tmp_path, text))
    assert "put it in quotes" in "\n".join(caught.value.details)


def test_rules_and_scales__must_name_real_numeric_items(tmp_path):
    text = MINIMAL + textwrap.dedent("""
    rules:
      - {id: r1, left: [staff_totl], op: "<=", right: [org_code], message: m}
    scales:
      - {id: s1, label: S, items: [staff_total, nothing], min_answered: 3}
    """)
    with pytest.raises(DefinitionError) as caught:
        load_instrument_file(write(tmp_path, text))
    text = "\n".join(caught.value.details)
    assert "rules.r1.left: 'staff_totl' is not a form item; did you mean 'staff_total'?" in text
    assert "rules.r1.right: 'org_code' is not a number" in text
    assert "scales.s1.items: 'staff_total' is not a likert item" in text
    assert "scales.s1.items: unknown item 'nothing'" in text
    assert "scales.s1.min_answered: 3 is more than its 2 items" in text


def test_cli_check__exits_1_and_lists_problems(run, tmp_path):
    write(tmp_path, BROKEN)
    result = run("instruments", "check", tmp_path / "demo.v1.yaml", expect=1)
    assert "requird: unknown key; did you mean 'required'?" in result.stdout
    assert "[DEF001]" in result.stderr


def test_cli_check__shipped_definitions_are_ok(run):
    result = run("instruments", "check")
    assert result.stdout.count(": ok (") == 2


def test_cli_list__shows_each_instrument(run):
    result = run("instruments", "list")
    assert "trust_capability" in result.stdout and "individual_review" in result.stdout


def test_cli__broken_folder_is_an_error_not_a_traceback(run, tmp_path, monkeypatch):
    write(tmp_path, BROKEN)
    monkeypatch.setenv("TRUST_SURVEY_INSTRUMENTS", str(tmp_path))
    result = run("instruments", "list", expect=1)
    assert "Traceback" not in result.output
    assert "problem(s) in instrument definitions" in result.stderr
