"""Normalising job titles: bands, seniority, places, asides, spellings, abbreviations."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from trust_survey.matching.taxonomy import load_taxonomy

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy(Path(__file__).resolve().parent.parent / "role_taxonomy.yaml")


def norm(tax, title) -> str:
    return " ".join(tax.normalise(title))


@pytest.mark.parametrize("title, expected", [
    ("Band 7 Healthcare Scientist Genomics", "healthcare scientist genomics"),
    ("Bioinformatician B8a", "bioinformatician"),
    ("AfC 6 Genetic Technologist", "genetics technologist"),
    ("Clinical Scientist (Band 8A)", "clinical scientist"),
    ("8a Principal Physicist", "physicist"),
    ("Clinical Scientist - Band 8b - Medical Physics", "clinical scientist medical physics"),
    ("Grade 5 Clinical Coder", "clinical coder"),
])
def test_normalise__bands_and_grades__are_removed(tax, title, expected):
    assert norm(tax, title) == expected


@pytest.mark.parametrize("title, expected", [
    ("Snr Medical Physics Software Eng B7", "medical physics software engineer"),
    ("Lead Bioinformatician - Guy's and St Thomas'", "lead bioinformatician"),
    ("Genetic Technologist (Fixed Term)", "genetics technologist"),
    ("Senior Bioinformatician (maternity cover until March)", "bioinformatician"),
    ("Principal Clinical Scientist - Medical Physics (Christie)", "clinical scientist medical physics"),
    ("Trainee Clinical Scientist (Genomics)", "clinical scientist genomics"),
    ("Clinical Safety Officer (0.6 WTE)", "clinical safety officer"),
    ("EPR Analyst - Addenbrooke's Hospital", "epr analyst"),
])
def test_normalise__seniority_places_and_asides__are_removed(tax, title, expected):
    assert norm(tax, title) == expected


@pytest.mark.parametrize("title, expected", [
    ("Dir of Digital", "director digital"),
    ("Genetic Counselor", "genetics counsellor"),
    ("IM&T Manager", "it manager"),
    ("EHR Analyst", "epr analyst"),
    ("Electronic Patient Record Configuration Analyst", "epr configuration analyst"),
    ("Clin Sci (Genomics)", "clinical scientist genomics"),
    ("Med Phys Tech", "medical physics technician"),
    ("Physio", "physiotherapist"),
    ("Bio-informatician", "bioinformatician"),
    ("Hematology BMS", "haematology biomedical scientist"),
])
def test_normalise__abbreviations_and_american_spellings__are_expanded(tax, title, expected):
    assert norm(tax, title) == expected


@pytest.mark.parametrize("title, expected", [
    ("CLINICAL SCIENTIST – SCIENTIFIC COMPUTING", "clinical scientist scientific computing"),
    ("clinical scientist, bioinformatics", "clinical scientist bioinformatics"),
    ("Clinical Scientist: Bioinformatics", "clinical scientist bioinformatics"),
    ("Clinical Scientist [Genomics]", "clinical scientist genomics"),
    ("Bioinformatician (NGS)", "bioinformatician ngs"),
    ("ST3 Clinical Genetics", "doctor clinical genetics"),
    ("I.T. Technician", "it technician"),
])
def test_normalise__case_punctuation_dashes_and_brackets__are_folded(tax, title, expected):
    assert norm(tax, title) == expected


@pytest.mark.parametrize("title, expected", [
    ("Clinical Scientist Genetics HCPC Reg", "clinical scientist genetics"),     # not a registrar
    ("Clinical Scientist (AHCS registered) - Genomics", "clinical scientist genomics"),
    ("Clinical Scientist in Training - Genomics", "clinical scientist genomics"),
    ("Nuc Med Physicist", "nuclear medicine physicist"),
    ("Snr Clin Scientist (Radiotherapy Phys)", "clinical scientist radiotherapy physics"),
    ("Clin Tech (RT)", "clinical technician radiotherapy"),
    ("Sci Comp Engineer", "scientific computing engineer"),
    ("Oracle Health Analyst", "cerner analyst"),
    ("Software Developer - Laboratory Information Management System", "software developer lims"),
])
def test_normalise__staff_list_shorthand__is_expanded(tax, title, expected):
    assert norm(tax, title) == expected


def test_normalise__cardiac_phys__is_not_made_physics(tax):
    assert "physics" not in tax.normalise("Cardiac Phys")   # physiology as often as physics


@pytest.mark.parametrize("title", [None, "", "   ", math.nan, "Band 7", "(Fixed Term)", "Senior"])
def test_normalise__blank_or_only_noise__is_empty(tax, title):
    assert tax.normalise(title) == ()


def test_normalise__is_idempotent_on_every_alias_and_dev_title(tax):
    titles = [p.text for p in tax.phrases]
    for name in ("titles_dev.csv", "titles_fresh.csv", "titles_fresh2.csv"):
        with (DATA / name).open(encoding="utf-8") as fh:
            titles += [r["title"] for r in csv.DictReader(fh)]
    for title in titles:
        once = norm(tax, title)
        assert norm(tax, once) == once, title


@pytest.mark.parametrize("title, expected", [
    ("Data Scientist | Leeds Teaching Hospitals NHS Trust", "data scientist"),
    ("Lead Data Scientist, Midlands and Lancashire Commissioning Support Unit", "lead data scientist"),
    ("Bioinformatician at Cambridge University Hospitals", "bioinformatician"),
    ("Integration Analyst - Somerset ICB", "integration analyst"),
    ("Clinical Scientist (Medical Physics, Royal Devon University Healthcare NHS FT)",
     "clinical scientist medical physics"),
    ("Clinical Safety Officer (Oxford University Hospitals)", "clinical safety officer"),
    ("Software Engineer<br>Medical Physics £35,392 - £42,618 pa", "software engineer medical physics"),
])
def test_normalise__employer_markup_and_salary_appended_to_a_title__are_dropped(tax, title, expected):
    assert norm(tax, title) == expected


@pytest.mark.parametrize("title, expected", [
    # a part naming a discipline or a team is the specialism, not an employer: it decides the stream
    ("Clinical Scientist - Genomics", "clinical scientist genomics"),
    ("Software Engineer, Medical Physics", "software engineer medical physics"),
    ("Bioinformatician - North West Genomic Laboratory Hub", "bioinformatician genomics laboratory hub"),
    # the first part is the job, whatever it says
    ("NHS Data Scientist", "data scientist"),
    ("Device Safety Specialist, MHRA", "device safety specialist mhra"),
])
def test_normalise__a_part_that_names_no_employer__is_kept(tax, title, expected):
    assert norm(tax, title) == expected
