"""The role taxonomy: the shipped file is valid; broken files list every problem; `taxonomy check`."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from trust_survey.errors import DefinitionError
from trust_survey.matching.taxonomy import NONE, STREAMS, expand_braces, load_taxonomy, parse_taxonomy

REPO = Path(__file__).resolve().parent.parent

MINIMAL = textwrap.dedent("""\
    version: 1
    streams:
      genomics: {name: Genomics, description: Genomics lab scientists}
      health_informatics: {name: Health informatics, description: Clinical informatics}
      physical_sciences: {name: Physical sciences, description: Medical physics}
    decision: {auto_score: 85, auto_margin: 20, review_score: 45, none_when_relevant_below: 40}
    roles:
      - {id: bioinformatician, name: Bioinformatician, stream: genomics, relation: direct,
         aliases: ["clinical bioinformatician"]}
      - {id: informatician, name: Clinical informatics scientist, stream: health_informatics,
         relation: direct}
      - {id: physicist, name: Medical physicist, stream: physical_sciences, relation: adjacent}
      - {id: nurse, name: Nurse, stream: none, relation: none}
""")

BROKEN = textwrap.dedent("""\
    version: 1
    colour: blue
    streams:
      genomics: {name: Genomics, description: Genomics lab scientists}
      health_informatics: {name: Health informatics, description: Clinical informatics}
      physical_sciences: {name: Physical sciences, description: Medical physics}
    decision: {auto_score: 40, auto_margin: 20, review_score: 45, none_when_relevant_below: 40}
    department_contexts:
      - {id: physics, terms: [medical physics], supports: [physical_science]}
    roles:
      - {id: bioinformatician, name: Bioinformatician, stream: genomic, relation: direct}
      - {id: informatician, name: Clinical informatics scientist, stream: health_informatics,
         relation: direct, alias: [clinical informatician]}
      - {id: physicist, name: Medical physicist, stream: physical_sciences, relation: adjacent,
         aliases: ["medical physics {expert|scientist"]}
      - {id: physicist, name: Physicist again, stream: physical_sciences, relation: adjacent}
      - {id: engineer, name: Clinical engineer, stream: physical_sciences, relation: sideways}
      - {id: nurse, name: Nurse, stream: none, relation: none, aliases: [medical physicist]}
      - {id: banded, name: Band 7, stream: none, relation: none}
""")


def test_taxonomy__shipped_file__loads_with_three_streams_and_distractors():
    tax = load_taxonomy(REPO / "role_taxonomy.yaml")
    assert set(tax.streams) == set(STREAMS)
    streams = {r.stream for r in tax.roles.values()}
    assert streams == set(STREAMS) | {NONE}
    for sid in STREAMS:
        assert any(r.stream == sid and r.relation == "direct" for r in tax.roles.values()), sid
    assert sum(r.stream == NONE for r in tax.roles.values()) > 20
    assert tax.version >= 1 and tax.thresholds.calibration


def test_taxonomy__load__is_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    first = load_taxonomy(path)
    assert load_taxonomy(path) is first
    path.write_text(MINIMAL.replace("version: 1", "version: 2"), encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_taxonomy(path).version == 2


def test_taxonomy__braces__expand_to_every_alternative():
    assert expand_braces("{clinical |}bioinformatician") == ["clinical bioinformatician", "bioinformatician"]
    assert expand_braces("{a|b} x {c|d}") == ["a x c", "a x d", "b x c", "b x d"]


def test_taxonomy__broken_file__reports_every_problem_together():
    with pytest.raises(DefinitionError) as err:
        parse_taxonomy(BROKEN, "broken.yaml")
    details = err.value.details
    text = "\n".join(details)
    expected = [
        "broken.yaml: colour: unknown key",
        "broken.yaml: decision.review_score: 45 is above auto_score 40",
        "broken.yaml: department_contexts.physics.supports[0]: unknown stream 'physical_science' (expected "
        "one of genomics, health_informatics, physical_sciences, none); did you mean 'physical_sciences'?",
        "broken.yaml: roles.bioinformatician.stream: unknown stream 'genomic' (expected one of genomics, "
        "health_informatics, physical_sciences, none); did you mean 'genomics'?",
        "broken.yaml: roles.informatician.alias: unknown key; did you mean 'aliases'?",
        "broken.yaml: roles.physicist.aliases[0]: 'medical physics {expert|scientist': unbalanced braces",
        "broken.yaml: roles.physicist.id: duplicate role id 'physicist'",
        "broken.yaml: roles.engineer.relation: 'sideways' is not allowed",
        "broken.yaml: roles.nurse.aliases[0]: 'medical physicist' is also claimed by role 'physicist'",
        "broken.yaml: roles.banded.name: 'Band 7' normalises to nothing",
    ]
    for line in expected:
        assert line in text, f"missing: {line}\n--- got:\n{text}"
    assert all(d.startswith("broken.yaml: ") for d in details)


def test_taxonomy__invalid_yaml__names_line_and_column():
    with pytest.raises(DefinitionError) as err:
        parse_taxonomy("version: 1\nroles: [\n  - a: b\n", "bad.yaml")
    assert "line" in str(err.value) and "column" in str(err.value)


def test_taxonomy__yes_no_words__are_caught_as_not_text():
    with pytest.raises(DefinitionError) as err:
        parse_taxonomy(MINIMAL.replace('aliases: ["clinical bioinformatician"]', "aliases: [on]"), "t.yaml")
    assert "roles.bioinformatician.aliases.0" in "\n".join(err.value.details)


def test_taxonomy_check__shipped_taxonomy__is_ok(run):
    result = run("taxonomy", "check", REPO / "role_taxonomy.yaml", expect=0)
    assert ": ok (version" in result.stdout


def test_taxonomy_check__broken_taxonomy__exits_1_and_lists_every_problem(run, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = run("taxonomy", "check", path, expect=1)
    lines = [line for line in result.stdout.splitlines() if line.startswith("broken.yaml: ")]
    assert len(lines) >= 10
    assert "did you mean 'genomics'?" in result.stdout
    assert "[DEF001]" in result.stderr and "problem(s)" in result.stderr


def test_taxonomy_check__bad_reviewed_aliases__are_listed(run, tmp_path):
    (tmp_path / "t.yaml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "role_overrides.yaml").write_text(textwrap.dedent("""\
        version: 1
        reviewed_aliases:
          - {alias: clinical scientist x, action: change_role, role_id: bioinformatican, stream: genomics}
          - {alias: y, action: accept, role_id: physicist, stream: genomics}
    """), encoding="utf-8")
    result = run("taxonomy", "check", tmp_path / "t.yaml", expect=1)
    assert "unknown role 'bioinformatican'; did you mean 'bioinformatician'?" in result.stdout
    assert "role 'physicist' is in stream 'physical_sciences', not 'genomics'" in result.stdout


def test_taxonomy_check__missing_file__exits_2(run, tmp_path):
    run("taxonomy", "check", tmp_path / "nope.yaml", expect=2)


def _check_overrides(run, tmp_path, text: str, expect: int):
    (tmp_path / "t.yaml").write_text((REPO / "role_taxonomy.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "role_overrides.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return run("taxonomy", "check", tmp_path / "t.yaml", expect=expect)


def test_taxonomy_check__reviewed_alias_contexts__are_validated(run, tmp_path):
    result = _check_overrides(run, tmp_path, """\
        format: 2
        version: 4
        reviewed_aliases:
          - {alias: software engineer, context: it_service, action: reject, stream: none}
          - {alias: software developer, action: reject, stream: none}
          - {alias: data engineer, context: "it_services+medical_physic", action: reject, stream: none}
          - {alias: web developer, context: other, action: reject, stream: none}
    """, expect=1)
    out = result.stdout
    assert "reviewed_aliases[0] ('software engineer').context: unknown department context 'it_service'; " \
           "did you mean 'it_services'?" in out
    assert "reviewed_aliases[1] ('software developer').context: missing; 'any' for every department" in out
    assert "reviewed_aliases[2] ('data engineer').context: unknown department context 'medical_physic'" in out
    assert "web developer" not in out and "[DEF001] 3 problem(s)" in result.stderr


def test_taxonomy_check__old_overrides_file_without_contexts__is_format_1_and_context_free(run, tmp_path):
    result = _check_overrides(run, tmp_path, """\
        version: 2
        reviewed_aliases:
          - {alias: software engineer, action: reject, stream: none}
    """, expect=0)
    assert "role_overrides.yaml: ok (format 1, version 2; 1 reviewed aliases, 0 for one department context)" \
        in result.stdout
    result = _check_overrides(run, tmp_path, """\
        version: 2
        reviewed_aliases:
          - {alias: software engineer, context: it_services, action: reject, stream: none}
    """, expect=1)
    assert "context: a format 1 file has no contexts; add 'format: 2' at the top" in result.stdout


def test_taxonomy_check__overrides_from_a_newer_trust_survey__are_refused(run, tmp_path):
    result = _check_overrides(run, tmp_path, "format: 3\nversion: 1\nreviewed_aliases: []\n", expect=1)
    assert "format: 3 is newer than 2" in result.stdout
